"""``Producer``: appends messages to one topic."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from minikafka_client._connection import Closeable, Connection, converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._idempotence import DEFAULT_RETRY_FOR, Attempts, Lanes, produce_request
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Record


class Producer(Closeable):
    """Appends messages to ``topic`` (created on first use).

    ``host`` is ``host:port`` (``None``: ``$MINIKAFKA_HOST`` or
    ``127.0.0.1:9999``); ``timeout`` is each call's deadline in seconds;
    ``token`` is sent on every call to a server with tokens
    (``MINIKAFKA_AUTH_FILE``; ``None``: ``$MINIKAFKA_TOKEN``, if set).
    Failures raise :class:`MiniKafkaError`.

    A plain producer sends each batch once: a send that fails with
    ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED`` may still have been stored.
    With ``idempotent=True`` each batch carries a producer id (random) and a
    sequence number, and such a failure is retried with the same sequence
    for up to ``retry_for`` seconds: the server stores the batch once and
    answers a retry with its original offsets (docs/api.md says exactly
    when a retry can still store it twice). A producer may be shared
    between threads.
    """

    def __init__(
        self,
        host: str | None,
        topic: str,
        timeout: float | None = 10.0,
        *,
        token: str | None = None,
        idempotent: bool = False,
        retry_for: float = DEFAULT_RETRY_FOR,
    ) -> None:
        self.topic = topic
        self.timeout = timeout
        self.retry_for = retry_for
        self._lanes = Lanes() if idempotent else None
        self._connection = Connection(host, token)

    def send(self, payload: bytes) -> int:
        """Stores one message; returns its offset."""
        return self.send_batch([payload])[0]

    def send_batch(
        self, payloads: Sequence[bytes], *, expected_next_offset: int | None = None
    ) -> tuple[int, int]:
        """Stores the payloads atomically, with consecutive offsets; returns
        the first and last offset. An empty batch is ``INVALID_ARGUMENT``.
        With ``expected_next_offset``, a conditional append: nothing is
        stored, and :class:`NextOffsetMismatchError` raised, unless the
        topic's next offset is that (1 for a topic that does not exist)."""
        return self._produce(
            produce_request(
                self.topic, payloads=payloads, expected_next_offset=expected_next_offset
            )
        )

    def send_record(self, record: Record) -> int:
        """Stores one message with its key and headers; returns its offset."""
        return self.send_records([record])[0]

    def send_records(
        self, records: Iterable[Record], *, expected_next_offset: int | None = None
    ) -> tuple[int, int]:
        """Stores the records atomically, as :meth:`send_batch` does payloads."""
        return self._produce(
            produce_request(self.topic, records=records, expected_next_offset=expected_next_offset)
        )

    def _produce(self, request: pb.ProduceRequest) -> tuple[int, int]:
        if self._lanes is None:
            return self._call(request)
        lane = self._lanes.take()
        self._lanes.number(request, lane)
        attempts = Attempts(self.retry_for)
        while True:
            try:
                offsets = self._call(request)
            except MiniKafkaError as error:
                wait = attempts.wait_before_retry(error)
                if wait is None:
                    self._lanes.finish(lane, error)
                    raise
                time.sleep(wait)
                continue
            self._lanes.finish(lane, None)
            return offsets

    def _call(self, request: pb.ProduceRequest) -> tuple[int, int]:
        with converted_errors():
            reply = self._connection.stub.Produce(request, timeout=self.timeout)
        return reply.first_offset, reply.last_offset

    def close(self) -> None:
        """Closes the connection."""
        self._connection.close()
