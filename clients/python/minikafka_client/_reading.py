"""What the blocking and the asyncio consumers share: where to start, the
requests they send, and how a reply becomes a :class:`PollResult`."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import logging

import grpc

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Gap, Message, PollResult

log = logging.getLogger("minikafka_client")

#: Where a consumer starts: an offset (0: the earliest retained message),
#: ``"earliest"``, or ``"end"`` (only messages stored from now on).
Start = int | Literal["earliest", "end"]

#: Errors after which subscribing again can succeed.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
#: The first wait before subscribing again, doubled up to ``max_backoff``.
FIRST_BACKOFF = 0.1


def starting_position(start: Start) -> tuple[int, bool]:
    """The first position and whether it is still to be found at the end;
    ``ValueError`` for anything but an offset >= 0, "earliest" or "end"."""
    if start == "end":
        return 0, True
    if start == "earliest":
        return 0, False
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ValueError(f"start must be an offset >= 0, 'earliest' or 'end', not {start!r}")
    return start, False


def poll_request(
    topic: str, read_from: int, wait: float | None, max_messages: int, max_bytes: int
) -> pb.PollRequest:
    """A poll from ``read_from``, held by the server up to ``wait`` seconds."""
    request = pb.PollRequest(
        topic=topic, read_from=read_from, max_messages=max_messages, max_bytes=max_bytes
    )
    if wait:
        request.max_wait.FromTimedelta(timedelta(seconds=wait))
    return request


def poll_deadline(timeout: float | None, wait: float | None) -> float | None:
    """A long poll's deadline: the call's timeout plus its wait."""
    return None if timeout is None else timeout + (wait or 0.0)


def poll_result(read_from: int, reply: pb.PollResponse) -> PollResult:
    """The messages, and the gap retention left before them, if any."""
    gap = None
    if read_from != 0 and reply.earliest_offset > read_from:
        gap = Gap(first=read_from, last=reply.earliest_offset - 1)
    return PollResult(messages=[Message.from_proto(m) for m in reply.messages], gap=gap)


def subscribe_request(
    topic: str, position: int, from_end: bool, max_batch: int
) -> pb.SubscribeRequest:
    """A subscription from ``position``, or from the end while none is known."""
    return pb.SubscribeRequest(
        topic=topic,
        read_from=position,
        max_batch=max_batch,
        from_end=from_end and position == 0,
    )


def end_position(missing: MiniKafkaError | None, info: pb.TopicInfo | None) -> int:
    """Where a consumer starting at the end reads from: the topic's next
    offset, or 1 when it does not exist yet (``missing`` is ``NOT_FOUND``;
    any other error is raised)."""
    if missing is not None:
        if missing.code != grpc.StatusCode.NOT_FOUND:
            raise missing
        return 1
    assert info is not None
    return info.next_offset


def stream_ended() -> MiniKafkaError:
    """The failure of a subscription the server ended without an error."""
    return MiniKafkaError(grpc.StatusCode.UNAVAILABLE, "the server ended the stream")


def retry_after(topic: str, failure: MiniKafkaError, backoff: float, max_backoff: float) -> float:
    """Raises a failure that subscribing again cannot cure; else logs it and
    returns the next backoff (this one doubled, up to ``max_backoff``)."""
    if failure.code not in TRANSIENT:
        raise failure
    log.warning(
        "subscription to %r interrupted (%s); resubscribing in %.1fs", topic, failure, backoff
    )
    return min(backoff * 2, max_backoff)
