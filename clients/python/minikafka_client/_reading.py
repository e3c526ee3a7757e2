"""What the blocking and the asyncio consumers share: where a consumer
is, the requests it sends, and what it makes of the answers. Only the
calls themselves (blocking or awaited) differ."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Literal

import grpc

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._groups import commit_request, start_at_group, start_at_time
from minikafka_client.errors import MiniKafkaError
from minikafka_client.messages import Gap, Message, PollResult

#: Where a consumer starts: an offset (0: the earliest retained message),
#: ``"earliest"``, ``"end"`` (only messages stored from now on), or a
#: ``datetime`` (the first message stored at or after it).
Start = int | Literal["earliest", "end"] | datetime

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
_FIRST_BACKOFF = 0.1

log = logging.getLogger("minikafka_client")


class Reader:
    """A consumer's state: its topic, its position and its settings. The
    arguments are those of :class:`minikafka_client.Consumer`."""

    def __init__(
        self,
        host: str | None,
        topic: str,
        start: Start = "earliest",
        *,
        timeout: float | None = 10.0,
        max_backoff: float = 5.0,
        token: str | None = None,
        group: str | None = None,
        auto_commit: float | None = None,
    ) -> None:
        if start == "earliest":
            start = 0
        #: Where the first read starts when the server resolves it (a time,
        #: a group's position); sent while :attr:`position` is 0.
        self._start: pb.StartPosition | None = None
        if isinstance(start, datetime):
            self._start = start_at_time(start)
            start = 0
        self._from_end = start == "end"
        if group is not None:
            self._start = start_at_group(group, self._from_end)
            self._from_end = False
            start = 0
        #: The group this consumer reads and commits as, if any.
        self.group = group
        self.auto_commit = auto_commit
        self._committed: tuple[int, float] | None = None
        if not self._from_end and (
            not isinstance(start, int) or isinstance(start, bool) or start < 0
        ):
            raise ValueError(
                f"start must be an offset >= 0, 'earliest', 'end' or a datetime, not {start!r}"
            )
        self.topic = topic
        self.timeout = timeout
        self.max_backoff = max_backoff
        #: The offset the next read starts from. 0 means "the earliest
        #: retained" (and, when starting at the end, "not known yet") until
        #: the first poll or streamed message.
        self.position: int = 0 if self._from_end else int(start)
        self._closed = False
        self._connect(host, token)

    def _connect(self, host: str | None, token: str | None) -> None:
        """Opens the consumer's connection: blocking or asyncio."""
        raise NotImplementedError

    def _found_end(self, info: pb.TopicInfo | None, missing: MiniKafkaError | None) -> None:
        """Starts a consumer that starts at the end at the topic's next
        offset, or at 1 when the topic does not exist yet (``missing`` is
        ``NOT_FOUND``; any other error is raised)."""
        if missing is not None and missing.code != grpc.StatusCode.NOT_FOUND:
            raise missing
        self.position = 1 if info is None else info.next_offset
        self._from_end = False

    def _poll_request(
        self, wait: float | None, max_messages: int, max_bytes: int
    ) -> tuple[pb.PollRequest, float | None]:
        """A poll from :attr:`position`, held by the server up to ``wait``
        seconds, and its deadline: the timeout plus the wait."""
        request = pb.PollRequest(
            topic=self.topic,
            read_from=self.position,
            max_messages=max_messages,
            max_bytes=max_bytes,
        )
        if self.position == 0 and self._start is not None:
            request.start.CopyFrom(self._start)
        if wait:
            request.max_wait.FromTimedelta(timedelta(seconds=wait))
        return request, None if self.timeout is None else self.timeout + (wait or 0.0)

    def _polled(self, request: pb.PollRequest, reply: pb.PollResponse) -> PollResult:
        """Moves past what a poll returned; the messages, and the gap
        retention left before them, if any."""
        gap = None
        if request.read_from != 0 and reply.earliest_offset > request.read_from:
            gap = Gap(first=request.read_from, last=reply.earliest_offset - 1)
        self.position = reply.new_read_from
        return PollResult(messages=[Message.from_proto(m) for m in reply.messages], gap=gap)

    def _subscribe_request(self, max_batch: int) -> pb.SubscribeRequest:
        """A subscription from :attr:`position`, or from the end while none
        is known."""
        request = pb.SubscribeRequest(
            topic=self.topic,
            read_from=self.position,
            max_batch=max_batch,
            from_end=self._from_end and self.position == 0,
        )
        if self.position == 0 and self._start is not None:
            request.start.CopyFrom(self._start)
        return request

    def _commit_request(self) -> pb.CommitOffsetRequest | None:
        """The commit of :attr:`position` for the group; ``None`` when there
        is nothing new to commit (nothing read yet, or committed already)."""
        if self.group is None:
            raise ValueError("this consumer has no group to commit for: pass group=...")
        if self.position == 0 or (
            self._committed is not None and self._committed[0] == self.position
        ):
            return None
        return commit_request(self.group, self.topic, self.position, None)

    def _committed_now(self, request: pb.CommitOffsetRequest) -> None:
        self._committed = (request.offset, time.monotonic())

    def _auto_commit_due(self) -> bool:
        """Whether auto-commit should commit before the next poll."""
        return self.auto_commit is not None and (
            self._committed is None or time.monotonic() - self._committed[1] >= self.auto_commit
        )

    def _streamed(self, proto: pb.Message) -> Message:
        """Moves past a message a subscription is about to yield."""
        message = Message.from_proto(proto)
        self.position = message.offset + 1
        self._from_end = False
        return message

    def _first_backoff(self) -> float:
        return min(_FIRST_BACKOFF, self.max_backoff)

    def _interrupted(self, error: grpc.RpcError | None, backoff: float) -> float:
        """After a subscription ended (``error``, or ``None`` when the server
        ended it cleanly): raises a failure that subscribing again cannot
        cure; else logs it and returns the next backoff."""
        if error is None:
            failure = MiniKafkaError(grpc.StatusCode.UNAVAILABLE, "the server ended the stream")
        else:
            failure = MiniKafkaError.from_rpc_error(error)
            failure.__cause__ = error
        if failure.code not in TRANSIENT:
            raise failure
        log.warning(
            "subscription to %r interrupted (%s); resubscribing in %.1fs",
            self.topic,
            failure,
            backoff,
        )
        return min(backoff * 2, self.max_backoff)
