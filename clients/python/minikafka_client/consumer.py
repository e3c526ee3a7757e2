"""``Consumer``: reads one topic from a position it keeps."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from datetime import timedelta
from typing import Literal

import grpc

from minikafka_client._connection import Closeable, Connection, converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Gap, Message, PollResult

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
_FIRST_BACKOFF = 0.1

log = logging.getLogger("minikafka_client")


class Consumer(Closeable):
    """Reads ``topic`` from ``start``, keeping its own position.

    The server remembers nothing about consumers: save :attr:`position`
    and start from it next time. ``host`` is ``host:port`` (``None``:
    ``$MINIKAFKA_HOST`` or ``127.0.0.1:9999``); ``timeout`` is each unary
    call's deadline in seconds (a long poll's deadline adds its wait).
    Failures raise :class:`MiniKafkaError`.
    """

    def __init__(
        self,
        host: str | None,
        topic: str,
        start: Start = "earliest",
        *,
        timeout: float | None = 10.0,
        max_backoff: float = 5.0,
    ) -> None:
        if start == "earliest":
            start = 0
        self._from_end = start == "end"
        if not self._from_end and (
            not isinstance(start, int) or isinstance(start, bool) or start < 0
        ):
            raise ValueError(f"start must be an offset >= 0, 'earliest' or 'end', not {start!r}")
        self.topic = topic
        self.timeout = timeout
        self.max_backoff = max_backoff
        #: The offset the next read starts from. 0 means "the earliest
        #: retained" (and, when starting at the end, "not known yet") until
        #: the first poll or streamed message.
        self.position: int = 0 if self._from_end else int(start)
        self._connection = Connection(host)
        self._closed = False

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
        if self._from_end:
            try:
                self.position = self.describe_topic().next_offset
            except MiniKafkaError as error:
                if error.code != grpc.StatusCode.NOT_FOUND:
                    raise
                self.position = 1
            self._from_end = False
        read_from = self.position
        request = pb.PollRequest(
            topic=self.topic, read_from=read_from, max_messages=max_messages, max_bytes=max_bytes
        )
        if wait:
            request.max_wait.FromTimedelta(timedelta(seconds=wait))
        deadline = None if self.timeout is None else self.timeout + (wait or 0.0)
        with converted_errors():
            reply = self._connection.stub.Poll(request, timeout=deadline)
        gap = None
        if read_from != 0 and reply.earliest_offset > read_from:
            gap = Gap(first=read_from, last=reply.earliest_offset - 1)
        self.position = reply.new_read_from
        return PollResult(messages=[Message.from_proto(m) for m in reply.messages], gap=gap)

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
        backoff = min(_FIRST_BACKOFF, self.max_backoff)
        while not self._closed:
            request = pb.SubscribeRequest(
                topic=self.topic,
                read_from=self.position,
                max_batch=max_batch,
                from_end=self._from_end and self.position == 0,
            )
            call = self._connection.stub.Subscribe(request)
            try:
                for batch in call:
                    backoff = min(_FIRST_BACKOFF, self.max_backoff)
                    for proto in batch.messages:
                        message = Message.from_proto(proto)
                        self.position = message.offset + 1
                        self._from_end = False
                        yield message
                failure = MiniKafkaError(grpc.StatusCode.UNAVAILABLE, "the server ended the stream")
            except grpc.RpcError as error:
                if self._closed:
                    return
                failure = MiniKafkaError.from_rpc_error(error)
                failure.__cause__ = error
            finally:
                call.cancel()
            if failure.code not in TRANSIENT:
                raise failure
            log.warning(
                "subscription to %r interrupted (%s); resubscribing in %.1fs",
                self.topic,
                failure,
                backoff,
            )
            time.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def close(self) -> None:
        """Closes the connection; a :meth:`subscribe` in progress ends."""
        self._closed = True
        self._connection.close()
