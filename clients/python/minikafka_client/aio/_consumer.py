"""The asyncio ``Consumer``: reads one topic from a position it keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import grpc

from minikafka_client._connection import converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._reading import Reader
from minikafka_client.aio._connection import AsyncCloseable, Connection
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Message, PollResult


class Consumer(Reader, AsyncCloseable):
    """Reads ``topic`` from ``start``, keeping its own position, as
    :class:`minikafka_client.Consumer` does (the same arguments), with
    awaitable calls and an asynchronous :meth:`subscribe`. Failures raise
    :class:`MiniKafkaError` (:class:`DataLossError` for damaged records)."""

    _connection: Connection

    def _connect(self, host: str | None, token: str | None) -> None:
        self._connection = Connection(host, token)

    async def describe_topic(self) -> pb.TopicInfo:
        """The topic's state (bounds, message count, size) as the generated
        ``TopicInfo``; ``NOT_FOUND`` when it does not exist yet."""
        return await self._connection.describe_topic(self.topic, self.timeout)

    async def poll(
        self, wait: float | None = None, max_messages: int = 0, max_bytes: int = 0
    ) -> PollResult:
        """Reads the next messages and moves :attr:`position` past them; the
        arguments are those of :meth:`minikafka_client.Consumer.poll`."""
        if self._auto_commit_due():
            await self.commit()
        if self._from_end:
            try:
                self._found_end(await self.describe_topic(), None)
            except MiniKafkaError as error:
                self._found_end(None, error)
        request, deadline = self._poll_request(wait, max_messages, max_bytes)
        with converted_errors():
            reply = await self._connection.stub.Poll(request, timeout=deadline)
        return self._polled(request, reply)

    async def subscribe(self, max_batch: int = 0) -> AsyncGenerator[Message, None]:
        """Follows the topic as :meth:`minikafka_client.Consumer.subscribe`
        does: yields messages as the server pushes them, subscribing again
        from :attr:`position` after transient errors, until :meth:`close`
        or the generator's ``aclose()``."""
        backoff = self._first_backoff()
        while not self._closed:
            call = self._connection.stub.Subscribe(self._subscribe_request(max_batch))
            error = None
            try:
                async for batch in call:
                    backoff = self._first_backoff()
                    for proto in batch.messages:
                        yield self._streamed(proto)
            except grpc.RpcError as failed:
                if self._closed:
                    return
                error = failed
            finally:
                call.cancel()
            next_backoff = self._interrupted(error, backoff)
            await asyncio.sleep(backoff)
            backoff = next_backoff

    async def commit(self) -> None:
        """Commits :attr:`position` for the group, as
        :meth:`minikafka_client.Consumer.commit` does."""
        request = self._commit_request()
        if request is None:
            return
        with converted_errors():
            await self._connection.stub.CommitOffset(request, timeout=self.timeout)
        self._committed_now(request)

    async def close(self) -> None:
        """Commits first with ``auto_commit``; closes the connection; a
        :meth:`subscribe` in progress ends."""
        if self.auto_commit is not None and not self._closed:
            await self.commit()
        self._closed = True
        await self._connection.close()
