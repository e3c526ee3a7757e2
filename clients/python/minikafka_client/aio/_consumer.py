"""The asyncio ``Consumer``: reads one topic from a position it keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import grpc

from minikafka_client._connection import converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._reading import (
    FIRST_BACKOFF,
    Start,
    end_position,
    poll_deadline,
    poll_request,
    poll_result,
    retry_after,
    starting_position,
    stream_ended,
    subscribe_request,
)
from minikafka_client.aio._connection import AsyncCloseable, Connection
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Message, PollResult


class Consumer(AsyncCloseable):
    """Reads ``topic`` from ``start``, keeping its own position, as
    :class:`minikafka_client.Consumer` does, with awaitable calls and an
    asynchronous :meth:`subscribe`. Failures raise :class:`MiniKafkaError`
    (:class:`DataLossError` for damaged records)."""

    def __init__(
        self,
        host: str | None,
        topic: str,
        start: Start = "earliest",
        *,
        timeout: float | None = 10.0,
        max_backoff: float = 5.0,
    ) -> None:
        position, self._from_end = starting_position(start)
        self.topic = topic
        self.timeout = timeout
        self.max_backoff = max_backoff
        #: The offset the next read starts from. 0 means "the earliest
        #: retained" (and, when starting at the end, "not known yet") until
        #: the first poll or streamed message.
        self.position: int = position
        self._connection = Connection(host)
        self._closed = False

    async def describe_topic(self) -> pb.TopicInfo:
        """The topic's state (bounds, message count, size) as the generated
        ``TopicInfo``; ``NOT_FOUND`` when it does not exist yet."""
        return await self._connection.describe_topic(self.topic, self.timeout)

    async def poll(
        self, wait: float | None = None, max_messages: int = 0, max_bytes: int = 0
    ) -> PollResult:
        """Reads the next messages and moves :attr:`position` past them; the
        arguments are those of :meth:`minikafka_client.Consumer.poll`."""
        if self._from_end:
            try:
                self.position = end_position(None, await self.describe_topic())
            except MiniKafkaError as error:
                self.position = end_position(error, None)
            self._from_end = False
        read_from = self.position
        request = poll_request(self.topic, read_from, wait, max_messages, max_bytes)
        with converted_errors():
            reply = await self._connection.stub.Poll(
                request, timeout=poll_deadline(self.timeout, wait)
            )
        self.position = reply.new_read_from
        return poll_result(read_from, reply)

    async def subscribe(self, max_batch: int = 0) -> AsyncGenerator[Message, None]:
        """Follows the topic as :meth:`minikafka_client.Consumer.subscribe`
        does: yields messages as the server pushes them, subscribing again
        from :attr:`position` after transient errors, until :meth:`close`
        or the generator's ``aclose()``."""
        backoff = min(FIRST_BACKOFF, self.max_backoff)
        while not self._closed:
            request = subscribe_request(self.topic, self.position, self._from_end, max_batch)
            call = self._connection.stub.Subscribe(request)
            try:
                async for batch in call:
                    backoff = min(FIRST_BACKOFF, self.max_backoff)
                    for proto in batch.messages:
                        message = Message.from_proto(proto)
                        self.position = message.offset + 1
                        self._from_end = False
                        yield message
                failure = stream_ended()
            except grpc.RpcError as error:
                if self._closed:
                    return
                failure = MiniKafkaError.from_rpc_error(error)
                failure.__cause__ = error
            finally:
                call.cancel()
            next_backoff = retry_after(self.topic, failure, backoff, self.max_backoff)
            await asyncio.sleep(backoff)
            backoff = next_backoff

    async def close(self) -> None:
        """Closes the connection; a :meth:`subscribe` in progress ends."""
        self._closed = True
        await self._connection.close()
