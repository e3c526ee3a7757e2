"""What the blocking and asyncio producers share: building a produce
request, and numbering idempotent batches so that a retry is stored once.

An idempotent producer sends each batch with a producer id and a sequence
number. Each request in flight takes a *lane* of its own (an id and the
sequence its next batch gets), so concurrent sends never wait on each
other's order. A batch whose outcome is unknown (the retries ran out) may
be stored, so its lane is dropped and never numbers other data; the next
batch starts a new lane with a fresh random id, which the server accepts
at any sequence.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client.errors import MiniKafkaError, SequenceOutOfOrderError
from minikafka_client.messages import Record

#: How long an idempotent producer retries a batch, by default, in seconds.
DEFAULT_RETRY_FOR = 30.0
#: The first wait between attempts, doubled after each up to ``_MAX_WAIT``.
_FIRST_WAIT = 0.02
_MAX_WAIT = 1.0

#: The answers that mean the server may have stored the batch and a retry
#: may get an answer: it was restarting, the connection dropped, the
#: call's deadline passed.
_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
#: The refusals that come before anything is stored: the sequence stays
#: unused, for the lane's next batch.
_STORED_NOTHING = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)


def produce_request(
    topic: str,
    *,
    payloads: Sequence[bytes] = (),
    records: Iterable[Record] = (),
    expected_next_offset: int | None = None,
) -> pb.ProduceRequest:
    """A produce of payloads or records, conditional when
    ``expected_next_offset`` is given."""
    request = pb.ProduceRequest(
        topic=topic, payloads=payloads, records=[record.to_proto() for record in records]
    )
    if expected_next_offset is not None:
        request.expected_next_offset = expected_next_offset
    return request


@dataclass
class Lane:
    """A producer id and the sequence its next batch gets."""

    producer_id: int
    next_sequence: int = 0


class Lanes:
    """The lanes no request is using; safe to share between threads."""

    def __init__(self) -> None:
        self._idle: list[Lane] = []
        self._lock = threading.Lock()

    def take(self) -> Lane:
        """An idle lane, or a new one with a random non-zero id."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Lane(producer_id=secrets.randbits(64) or 1)

    def number(self, request: pb.ProduceRequest, lane: Lane) -> None:
        """Numbers ``request`` as ``lane``'s next batch."""
        request.producer_id = lane.producer_id
        request.sequence = lane.next_sequence

    def finish(self, lane: Lane, error: MiniKafkaError | None) -> None:
        """Gives the lane back after its batch was stored (the next batch
        takes the next sequence) or refused before anything was stored (it
        takes the same); drops it when the outcome is unknown or the server
        disagrees with its sequence."""
        if error is None:
            lane.next_sequence += 1
        elif isinstance(error, SequenceOutOfOrderError) or error.code not in _STORED_NOTHING:
            return
        with self._lock:
            self._idle.append(lane)


class Attempts:
    """When to send a batch again: after a transient failure, with waits
    growing from 20 ms to 1 s, until ``retry_for`` seconds have passed."""

    def __init__(self, retry_for: float) -> None:
        self._give_up = time.monotonic() + retry_for
        self._wait = _FIRST_WAIT

    def wait_before_retry(self, error: MiniKafkaError) -> float | None:
        """How long to wait before sending again; ``None``: give up."""
        wait = self._wait
        if error.code not in _TRANSIENT or time.monotonic() + wait > self._give_up:
            return None
        self._wait = min(2 * wait, _MAX_WAIT)
        return wait
