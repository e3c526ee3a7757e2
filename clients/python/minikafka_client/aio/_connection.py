"""One asyncio channel to a server, and closing it at the end of an
``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import grpc.aio

from minikafka_client._connection import (
    CHANNEL_OPTIONS,
    converted_errors,
    resolve_host,
    resolve_token,
    token_metadata,
)
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._generated.minikafka.v1 import minikafka_pb2_grpc as pb_grpc


class _AddsToken:
    """Adds the token to a call's metadata."""

    def __init__(self, token: str) -> None:
        self._metadata = token_metadata(token)

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *self._metadata)
        return details._replace(metadata=metadata)


# Two classes, not one with both bases: a grpc.aio channel files each
# interceptor under the first kind it is, so one object would miss streams.
class _TokenOnCalls(_AddsToken, grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the token on every unary call of an asyncio channel."""

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class _TokenOnStreams(_AddsToken, grpc.aio.UnaryStreamClientInterceptor):
    """Sends the token on every stream (``Subscribe``) of an asyncio channel."""

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class Connection:
    """One grpc.aio channel to a server and the v1 stub on it, sending
    ``token`` (resolved by ``resolve_token``) on every call when there is one."""

    def __init__(self, host: str | None, token: str | None = None) -> None:
        self.target = resolve_host(host)
        token = resolve_token(token)
        interceptors: list[grpc.aio.ClientInterceptor] = (
            [] if token is None else [_TokenOnCalls(token), _TokenOnStreams(token)]
        )
        self.channel = grpc.aio.insecure_channel(
            self.target, options=CHANNEL_OPTIONS, interceptors=interceptors
        )
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
