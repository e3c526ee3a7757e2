"""What consumers return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb


@dataclass(frozen=True)
class Message:
    """One stored message."""

    #: Its offset in the topic, from 1.
    offset: int
    #: When the server stored it (UTC).
    timestamp: datetime
    #: The bytes the producer sent, unchanged.
    payload: bytes

    @classmethod
    def from_proto(cls, message: pb.Message) -> Message:
        """Converts the protobuf ``minikafka.v1.Message``."""
        return cls(
            offset=message.offset,
            timestamp=message.timestamp.ToDatetime(tzinfo=timezone.utc),
            payload=message.payload,
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
