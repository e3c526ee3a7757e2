"""The asyncio ``Producer``: appends messages to one topic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from minikafka_client._connection import converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._idempotence import DEFAULT_RETRY_FOR, Attempts, Lanes, produce_request
from minikafka_client.aio._connection import AsyncCloseable, Connection
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Record


class Producer(AsyncCloseable):
    """Appends messages to ``topic`` (created on first use), as
    :class:`minikafka_client.Producer` does (``idempotent=True`` included),
    with awaitable calls."""

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

    async def send(self, payload: bytes) -> int:
        """Stores one message; returns its offset."""
        return (await self.send_batch([payload]))[0]

    async def send_batch(
        self, payloads: Sequence[bytes], *, expected_next_offset: int | None = None
    ) -> tuple[int, int]:
        """Stores the payloads atomically, with consecutive offsets; returns
        the first and last offset. An empty batch is ``INVALID_ARGUMENT``.
        With ``expected_next_offset``, a conditional append."""
        return await self._produce(
            produce_request(
                self.topic, payloads=payloads, expected_next_offset=expected_next_offset
            )
        )

    async def send_record(self, record: Record) -> int:
        """Stores one message with its key and headers; returns its offset."""
        return (await self.send_records([record]))[0]

    async def send_records(
        self, records: Iterable[Record], *, expected_next_offset: int | None = None
    ) -> tuple[int, int]:
        """Stores the records atomically, as :meth:`send_batch` does payloads."""
        return await self._produce(
            produce_request(self.topic, records=records, expected_next_offset=expected_next_offset)
        )

    async def _produce(self, request: pb.ProduceRequest) -> tuple[int, int]:
        if self._lanes is None:
            return await self._call(request)
        lane = self._lanes.take()
        self._lanes.number(request, lane)
        attempts = Attempts(self.retry_for)
        while True:
            try:
                offsets = await self._call(request)
            except MiniKafkaError as error:
                wait = attempts.wait_before_retry(error)
                if wait is None:
                    self._lanes.finish(lane, error)
                    raise
                await asyncio.sleep(wait)
                continue
            self._lanes.finish(lane, None)
            return offsets

    async def _call(self, request: pb.ProduceRequest) -> tuple[int, int]:
        with converted_errors():
            reply = await self._connection.stub.Produce(request, timeout=self.timeout)
        return reply.first_offset, reply.last_offset

    async def close(self) -> None:
        """Closes the connection."""
        await self._connection.close()
