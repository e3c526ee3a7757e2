"""What producers send and consumers return."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb


@dataclass(frozen=True)
class Header:
    """One header of a message, as in Kafka: a name (non-empty UTF-8; it
    may appear more than once in a message) and a value (any bytes)."""

    name: str
    value: bytes


@dataclass(frozen=True)
class Record:
    """One message to produce: its payload, an optional key (``b""``: none)
    and headers, kept in order. Headers may be given as ``(name, value)``
    pairs."""

    payload: bytes
    key: bytes = b""
    headers: tuple[Header, ...] = ()

    def __init__(
        self,
        payload: bytes,
        key: bytes = b"",
        headers: Iterable[Header | tuple[str, bytes]] = (),
    ) -> None:
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "key", key)
        object.__setattr__(
            self, "headers", tuple(h if isinstance(h, Header) else Header(*h) for h in headers)
        )

    def to_proto(self) -> pb.Record:
        """Converts to the protobuf ``minikafka.v1.Record``."""
        return pb.Record(
            payload=self.payload,
            key=self.key,
            headers=[pb.Header(name=h.name.encode(), value=h.value) for h in self.headers],
        )


@dataclass(frozen=True)
class Message:
    """One stored message."""

    #: Its offset in the topic, from 1.
    offset: int
    #: When the server stored it (UTC).
    timestamp: datetime
    #: The bytes the producer sent, unchanged.
    payload: bytes
    #: Its key; ``b""`` when it has none.
    key: bytes = b""
    #: Its headers, in the order the producer gave them.
    headers: tuple[Header, ...] = ()

    @classmethod
    def from_proto(cls, message: pb.Message) -> Message:
        """Converts the protobuf ``minikafka.v1.Message``. A header name that
        is not UTF-8 (the server refuses such names) is decoded with
        replacement characters rather than failing the read."""
        return cls(
            offset=message.offset,
            timestamp=message.timestamp.ToDatetime(tzinfo=timezone.utc),
            payload=message.payload,
            key=message.key,
            headers=tuple(
                Header(h.name.decode(errors="replace"), h.value) for h in message.headers
            ),
        )


@dataclass(frozen=True)
class Gap:
    """Messages that retention removed before they were read: ``first..last``."""

    first: int
    last: int

    @property
    def count(self) -> int:
        """How many messages were missed."""
        return self.last - self.first + 1


@dataclass
class PollResult:
    """What one :meth:`Consumer.poll` returned."""

    #: The messages, in offset order; empty when caught up.
    messages: list[Message] = field(default_factory=list)
    #: Set when retention removed messages not yet read; the messages after
    #: the gap are still returned.
    gap: Gap | None = None
