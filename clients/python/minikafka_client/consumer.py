"""``Consumer``: reads one topic from a position it keeps."""

from __future__ import annotations

import time
from collections.abc import Generator

import grpc

from minikafka_client._connection import Closeable, Connection, converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._reading import Reader
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Message, PollResult


class Consumer(Reader, Closeable):
    """Reads ``topic`` from ``start``, keeping its own position.

    Save :attr:`position` and start from it next time, or read as a
    ``group``: the server keeps the group's position, the first read starts
    there (where the group has none: the earliest, or the end with
    ``start="end"``), and :meth:`commit` stores the position after the
    messages returned so far. With ``auto_commit`` seconds, a poll commits
    when that long has passed since the last commit, and :meth:`close`
    commits: at-least-once, since only messages already returned are
    committed. A ``datetime`` start reads from the first message stored at
    or after it. ``host`` is ``host:port`` (``None``:
    ``$MINIKAFKA_HOST`` or ``127.0.0.1:9999``); ``timeout`` is each unary
    call's deadline in seconds (a long poll's deadline adds its wait);
    ``token`` is sent on every call and stream to a server with tokens
    (``MINIKAFKA_AUTH_FILE``; ``None``: ``$MINIKAFKA_TOKEN``, if set).
    Failures raise :class:`MiniKafkaError`.
    """

    _connection: Connection

    def _connect(self, host: str | None, token: str | None) -> None:
        self._connection = Connection(host, token)

    def describe_topic(self) -> pb.TopicInfo:
        """The topic's state (bounds, message count, size) as the generated
        ``TopicInfo``; ``NOT_FOUND`` when it does not exist yet."""
        return self._connection.describe_topic(self.topic, self.timeout)

    def poll(
        self, wait: float | None = None, max_messages: int = 0, max_bytes: int = 0
    ) -> PollResult:
        """Reads the next messages and moves :attr:`position` past them.

        Without ``wait`` it answers at once (no messages when caught up; an
        unknown topic is ``NOT_FOUND``). With ``wait`` seconds, the server
        holds the call until a message is stored or the wait (capped at 30 s)
        runs out. ``max_messages`` and ``max_bytes`` limit the reply (0: the
        server's defaults, 1,000 messages and 1 MiB; one message is always
        returned if any is available).
        """
        if self._auto_commit_due():
            self.commit()
        if self._from_end:
            try:
                self._found_end(self.describe_topic(), None)
            except MiniKafkaError as error:
                self._found_end(None, error)
        request, deadline = self._poll_request(wait, max_messages, max_bytes)
        with converted_errors():
            reply = self._connection.stub.Poll(request, timeout=deadline)
        return self._polled(request, reply)

    def subscribe(self, max_batch: int = 0) -> Generator[Message, None, None]:
        """Follows the topic: yields messages as the server pushes them, from
        :attr:`position` (or, starting at the end, from the messages stored
        after the subscription begins), until :meth:`close` or the
        generator's ``close()`` cancels the stream. A topic that does not
        exist yet is waited for.

        :attr:`position` moves past each message as it is yielded. After a
        transient error (the server restarting) it subscribes again from
        there, waiting up to ``max_backoff`` seconds between attempts; other
        errors raise :class:`MiniKafkaError`. A jump in offsets means
        retention removed the messages in between before they were read.
        """
        backoff = self._first_backoff()
        while not self._closed:
            call = self._connection.stub.Subscribe(self._subscribe_request(max_batch))
            error = None
            try:
                for batch in call:
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
            time.sleep(backoff)
            backoff = next_backoff

    def commit(self) -> None:
        """Commits :attr:`position` for the consumer's group: a restart then
        reads on after every message returned so far. ``ValueError`` without
        a group."""
        request = self._commit_request()
        if request is None:
            return
        with converted_errors():
            self._connection.stub.CommitOffset(request, timeout=self.timeout)
        self._committed_now(request)

    def close(self) -> None:
        """Commits first with ``auto_commit``; closes the connection; a
        :meth:`subscribe` in progress ends."""
        if self.auto_commit is not None and not self._closed:
            self.commit()
        self._closed = True
        self._connection.close()
