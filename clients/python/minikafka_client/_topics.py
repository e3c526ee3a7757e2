"""Topic settings and descriptions, and the admin requests built from them:
what the blocking and asyncio ``Admin`` share, so that only the calls differ."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Generic, Literal, TypeVar

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb


class Forever(enum.Enum):
    """The type of :data:`FOREVER`."""

    FOREVER = "forever"

    def __repr__(self) -> str:
        return "FOREVER"


#: A retention that never removes messages by age.
FOREVER = Forever.FOREVER

#: How long a topic keeps its messages by age: a positive age, or
#: :data:`FOREVER`.
Retention = timedelta | Forever

#: A setting's name as the API spells it, for :meth:`Admin.update_topic`'s
#: ``reset``.
SettingName = Literal["retention", "retention_bytes", "max_message_bytes"]

T = TypeVar("T")


@dataclass(frozen=True)
class TopicSettings:
    """The settings a topic can have of its own; ``None`` follows the
    server's default (``MINIKAFKA_RETENTIONTIME``, no size limit,
    ``MINIKAFKA_MAX_MESSAGE_BYTES``). The server refuses a zero or negative
    value, or a message limit above its own, with ``INVALID_ARGUMENT``
    naming the setting."""

    #: Removal by age.
    retention: Retention | None = None
    #: Removal by size: the most payload bytes the whole topic keeps.
    retention_bytes: int | None = None
    #: The largest payload the topic accepts (at most the server's limit).
    max_message_bytes: int | None = None

    def __post_init__(self) -> None:
        # A negative size cannot travel as the API's uint64: refuse it here,
        # naming the setting, as the server does a zero one.
        for name in ("retention_bytes", "max_message_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: must be positive, not {value}")
        if self.retention is not None and not isinstance(self.retention, (timedelta, Forever)):
            raise TypeError(
                f"retention: a timedelta or FOREVER, not {type(self.retention).__name__}"
            )

    def to_proto(self) -> pb.TopicSettings:
        """The protobuf ``minikafka.v1.TopicSettings``."""
        message = pb.TopicSettings()
        if self.retention is not None:
            message.retention.CopyFrom(_retention_to_proto(self.retention))
        if self.retention_bytes is not None:
            message.retention_bytes = self.retention_bytes
        if self.max_message_bytes is not None:
            message.max_message_bytes = self.max_message_bytes
        return message


class SettingSource(enum.Enum):
    """Where a setting's effective value comes from."""

    #: The server's configuration (or its built-in default).
    SERVER_DEFAULT = "server default"
    #: The topic's own setting.
    TOPIC = "topic"


@dataclass(frozen=True)
class Effective(Generic[T]):
    """A setting's value as it applies, and where it comes from."""

    value: T
    source: SettingSource


@dataclass(frozen=True)
class EffectiveSettings:
    """A topic's settings as they apply, each with its source."""

    #: Removal by age.
    retention: Effective[Retention]
    #: Removal by size; ``None``: no size limit.
    retention_bytes: Effective[int | None]
    #: The largest payload accepted.
    max_message_bytes: Effective[int]


@dataclass(frozen=True)
class TopicInfo:
    """The state of one topic, with its settings."""

    name: str
    #: The earliest retained message's offset; ``next_offset`` when empty.
    earliest_offset: int
    #: The offset the next message stored will get.
    next_offset: int
    message_count: int
    #: The payload bytes the topic holds.
    size_bytes: int
    #: When the earliest retained message was stored (UTC); ``None`` when empty.
    oldest_timestamp: datetime | None
    #: ``None`` only from a server older than topic settings.
    settings: EffectiveSettings | None

    @classmethod
    def from_proto(cls, info: pb.TopicInfo) -> TopicInfo:
        """Converts the protobuf ``minikafka.v1.TopicInfo``."""
        oldest = None
        if info.HasField("oldest_timestamp"):
            oldest = info.oldest_timestamp.ToDatetime(tzinfo=timezone.utc)
        settings = None
        if info.HasField("settings") and info.settings.HasField("retention"):
            settings = _effective_settings(info.settings)
        return cls(
            name=info.name,
            earliest_offset=info.earliest_offset,
            next_offset=info.next_offset,
            message_count=info.message_count,
            size_bytes=info.size_bytes,
            oldest_timestamp=oldest,
            settings=settings,
        )


@dataclass(frozen=True)
class TopicPage:
    """One page of :meth:`Admin.list_topics_page`."""

    #: The topics, sorted by name.
    topics: list[TopicInfo] = field(default_factory=list)
    #: Pass as ``page_token`` for the next page; empty when this is the last.
    next_page_token: str = ""


def create_request(name: str, settings: TopicSettings | None) -> pb.CreateTopicRequest:
    """The request that creates ``name`` with ``settings``."""
    return pb.CreateTopicRequest(topic=name, settings=(settings or TopicSettings()).to_proto())


def update_request(
    name: str, set: TopicSettings | None, reset: Iterable[SettingName]
) -> pb.UpdateTopicRequest:
    """The request that sets ``set``'s present settings and resets ``reset``."""
    return pb.UpdateTopicRequest(
        topic=name, settings=(set or TopicSettings()).to_proto(), reset=list(reset)
    )


def list_request(page_size: int, page_token: str) -> pb.ListTopicsRequest:
    """The request for one page of topics."""
    return pb.ListTopicsRequest(page_size=page_size, page_token=page_token)


def topic_page(reply: pb.ListTopicsResponse) -> TopicPage:
    """Converts a page of topics."""
    return TopicPage(
        topics=[TopicInfo.from_proto(t) for t in reply.topics],
        next_page_token=reply.next_page_token,
    )


def _retention_to_proto(retention: Retention) -> pb.Retention:
    if isinstance(retention, Forever):
        return pb.Retention(forever=True)
    message = pb.Retention()
    message.max_age.FromTimedelta(retention)
    return message


def _retention_from_proto(retention: pb.Retention) -> Retention:
    if retention.WhichOneof("retention") == "max_age":
        age: timedelta = retention.max_age.ToTimedelta()
        return age
    return FOREVER


def _source(source: int) -> SettingSource:
    if source == pb.SETTING_SOURCE_TOPIC:
        return SettingSource.TOPIC
    return SettingSource.SERVER_DEFAULT


def _effective_settings(settings: pb.EffectiveSettings) -> EffectiveSettings:
    retention_bytes = settings.retention_bytes if settings.HasField("retention_bytes") else None
    return EffectiveSettings(
        retention=Effective(
            _retention_from_proto(settings.retention), _source(settings.retention_source)
        ),
        retention_bytes=Effective(retention_bytes, _source(settings.retention_bytes_source)),
        max_message_bytes=Effective(
            settings.max_message_bytes, _source(settings.max_message_bytes_source)
        ),
    )
