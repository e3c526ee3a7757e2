"""One asyncio channel to a server, and closing it at the end of an
``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import grpc.aio

from minikafka_client._connection import CHANNEL_OPTIONS, converted_errors, resolve_host
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._generated.minikafka.v1 import minikafka_pb2_grpc as pb_grpc


class Connection:
    """One grpc.aio channel to a server and the v1 stub on it."""

    def __init__(self, host: str | None) -> None:
        self.target = resolve_host(host)
        self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self.stub = pb_grpc.MiniKafkaStub(self.channel)

    async def describe_topic(self, topic: str, timeout: float | None) -> pb.TopicInfo:
        """The topic's bounds; ``MiniKafkaError`` ``NOT_FOUND`` when it does not exist."""
        with converted_errors():
            return await self.stub.DescribeTopic(
                pb.DescribeTopicRequest(topic=topic), timeout=timeout
            )

    async def close(self) -> None:
        """Closes the channel, cancelling the calls in progress."""
        await self.channel.close()


class AsyncCloseable:
    """Lets a client object close its connection at the end of an ``async with``."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
