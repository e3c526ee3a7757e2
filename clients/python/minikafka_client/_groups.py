"""Consumer groups: committed positions and their lag, and the requests
for them; what the blocking and asyncio clients share, so that only the
calls differ.

A group is a named, durable position per topic kept by the server. The
committed offset is the next one to read: after processing offsets 1 to
10, commit 11. Consumers that share a group share one position; the last
commit wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb


@dataclass(frozen=True)
class Commit:
    """A group's committed position in one topic."""

    #: The next offset the group will read.
    offset: int
    #: When the server stored the commit.
    time: datetime
    #: What the application stored with it; empty when nothing.
    metadata: str

    @classmethod
    def from_proto(cls, commit: pb.OffsetCommit) -> Commit:
        return cls(
            offset=commit.offset,
            time=commit.commit_time.ToDatetime(tzinfo=timezone.utc),
            metadata=commit.metadata,
        )


@dataclass(frozen=True)
class GroupTopic:
    """A group's position in one topic, and how far behind it is."""

    topic: str
    commit: Commit
    #: The offset the topic's next message will get.
    next_offset: int
    #: The topic's earliest retained offset.
    earliest_offset: int
    #: Retained messages the group has not read.
    lag: int
    #: How long ago the oldest unread message was stored; ``None`` when
    #: the group has read everything.
    oldest_unread_age: timedelta | None
    #: Messages retention removed before the group read them.
    expired_unread: int


@dataclass(frozen=True)
class GroupInfo:
    """A group's position and lag in each topic it committed in."""

    name: str
    topics: list[GroupTopic]

    @classmethod
    def from_proto(cls, info: pb.GroupInfo) -> GroupInfo:
        return cls(
            name=info.name,
            topics=[
                GroupTopic(
                    topic=t.topic,
                    commit=Commit.from_proto(t.commit),
                    next_offset=t.next_offset,
                    earliest_offset=t.earliest_offset,
                    lag=t.lag,
                    oldest_unread_age=(
                        t.oldest_unread_age.ToTimedelta()
                        if t.HasField("oldest_unread_age")
                        else None
                    ),
                    expired_unread=t.expired_unread,
                )
                for t in info.topics
            ],
        )


def commit_request(
    group: str, topic: str, offset: int, metadata: str | None
) -> pb.CommitOffsetRequest:
    request = pb.CommitOffsetRequest(group=group, topic=topic, offset=offset)
    if metadata is not None:
        request.metadata = metadata
    return request


def fetched(reply: pb.FetchOffsetResponse) -> Commit | None:
    return Commit.from_proto(reply.commit) if reply.HasField("commit") else None


def time_request(topic: str, when: datetime) -> pb.OffsetForTimeRequest:
    request = pb.OffsetForTimeRequest(topic=topic)
    request.time.FromDatetime(when)
    return request


def start_at_time(when: datetime) -> pb.StartPosition:
    start = pb.StartPosition()
    start.time.FromDatetime(when)
    return start


def start_at_group(group: str, from_end: bool) -> pb.StartPosition:
    no_commit = pb.NO_COMMIT_END if from_end else pb.NO_COMMIT_EARLIEST
    return pb.StartPosition(group=pb.GroupStart(group=group, no_commit=no_commit))
