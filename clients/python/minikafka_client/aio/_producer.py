"""The asyncio ``Producer``: appends messages to one topic."""

from __future__ import annotations

from collections.abc import Sequence

from minikafka_client._connection import converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client.aio._connection import AsyncCloseable, Connection


class Producer(AsyncCloseable):
    """Appends messages to ``topic`` (created on first use), as
    :class:`minikafka_client.Producer` does, with awaitable calls."""

    def __init__(
        self,
        host: str | None,
        topic: str,
        timeout: float | None = 10.0,
        *,
        token: str | None = None,
    ) -> None:
        self.topic = topic
        self.timeout = timeout
        self._connection = Connection(host, token)

    async def send(self, payload: bytes) -> int:
        """Stores one message; returns its offset."""
        return (await self.send_batch([payload]))[0]

    async def send_batch(self, payloads: Sequence[bytes]) -> tuple[int, int]:
        """Stores the payloads atomically, with consecutive offsets; returns
        the first and last offset. An empty batch is ``INVALID_ARGUMENT``."""
        request = pb.ProduceRequest(topic=self.topic, payloads=payloads)
        with converted_errors():
            reply = await self._connection.stub.Produce(request, timeout=self.timeout)
        return reply.first_offset, reply.last_offset

    async def close(self) -> None:
        """Closes the connection."""
        await self._connection.close()
