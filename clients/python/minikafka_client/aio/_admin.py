"""The asyncio ``Admin``: creating, configuring, deleting and listing topics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from minikafka_client._connection import converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._groups import Commit, GroupInfo, commit_request, fetched, time_request
from minikafka_client._topics import (
    SettingName,
    TopicInfo,
    TopicPage,
    TopicSettings,
    create_request,
    list_request,
    topic_page,
    update_request,
)
from minikafka_client.aio._connection import AsyncCloseable, Connection


class Admin(AsyncCloseable):
    """Topic administration as :class:`minikafka_client.Admin` does it (the
    same arguments and errors), with awaitable calls."""

    def __init__(
        self, host: str | None, timeout: float | None = 10.0, *, token: str | None = None
    ) -> None:
        self.timeout = timeout
        self._connection = Connection(host, token)

    async def create_topic(self, name: str, settings: TopicSettings | None = None) -> TopicInfo:
        """Creates ``name``; see :meth:`minikafka_client.Admin.create_topic`."""
        with converted_errors():
            reply = await self._connection.stub.CreateTopic(
                create_request(name, settings), timeout=self.timeout
            )
        return TopicInfo.from_proto(reply)

    async def update_topic(
        self,
        name: str,
        set: TopicSettings | None = None,
        reset: Iterable[SettingName] = (),
    ) -> TopicInfo:
        """Changes ``name``'s settings; see :meth:`minikafka_client.Admin.update_topic`."""
        with converted_errors():
            reply = await self._connection.stub.UpdateTopic(
                update_request(name, set, reset), timeout=self.timeout
            )
        return TopicInfo.from_proto(reply)

    async def delete_topic(self, name: str) -> int:
        """Deletes ``name``; returns how many messages it held."""
        with converted_errors():
            reply = await self._connection.stub.DeleteTopic(
                pb.DeleteTopicRequest(topic=name), timeout=self.timeout
            )
        return int(reply.messages_deleted)

    async def describe_topic(self, name: str) -> TopicInfo:
        """One topic, with its effective settings and their sources."""
        return TopicInfo.from_proto(await self._connection.describe_topic(name, self.timeout))

    async def list_topics_page(self, page_size: int = 0, page_token: str = "") -> TopicPage:
        """One page of topics; see :meth:`minikafka_client.Admin.list_topics_page`."""
        with converted_errors():
            reply = await self._connection.stub.ListTopics(
                list_request(page_size, page_token), timeout=self.timeout
            )
        return topic_page(reply)

    async def list_topics(self, page_size: int = 0) -> list[TopicInfo]:
        """Every topic, sorted by name, fetched ``page_size`` at a time."""
        topics: list[TopicInfo] = []
        token = ""
        while True:
            page = await self.list_topics_page(page_size, token)
            topics.extend(page.topics)
            if not page.next_page_token:
                return topics
            token = page.next_page_token

    async def commit_offset(
        self, group: str, topic: str, offset: int, metadata: str | None = None
    ) -> None:
        """Stores ``group``'s position in ``topic``: ``offset`` is the next
        offset it will read (1 to the topic's next offset; lower than before
        rewinds it), with optional ``metadata`` (at most 4 KiB)."""
        with converted_errors():
            await self._connection.stub.CommitOffset(
                commit_request(group, topic, offset, metadata), timeout=self.timeout
            )

    async def fetch_offset(self, group: str, topic: str) -> Commit | None:
        """``group``'s commit in ``topic``; ``None`` when it has none."""
        with converted_errors():
            reply = await self._connection.stub.FetchOffset(
                pb.FetchOffsetRequest(group=group, topic=topic), timeout=self.timeout
            )
        return fetched(reply)

    async def offset_for_time(self, topic: str, when: datetime) -> int:
        """Where a read of ``topic`` from ``when`` starts: the first message
        stored at or after it (the topic's next offset when none is)."""
        with converted_errors():
            reply = await self._connection.stub.OffsetForTime(
                time_request(topic, when), timeout=self.timeout
            )
        return int(reply.offset)

    async def list_groups(self) -> list[str]:
        """Every group's name, sorted, fetched a page at a time."""
        groups: list[str] = []
        token = ""
        while True:
            with converted_errors():
                reply = await self._connection.stub.ListGroups(
                    pb.ListGroupsRequest(page_token=token), timeout=self.timeout
                )
            groups.extend(reply.groups)
            if not reply.next_page_token:
                return groups
            token = reply.next_page_token

    async def describe_group(self, group: str) -> GroupInfo:
        """``group``'s position, lag and oldest unread message's age in each
        topic; ``NOT_FOUND`` for a group with no commit."""
        with converted_errors():
            reply = await self._connection.stub.DescribeGroup(
                pb.DescribeGroupRequest(group=group), timeout=self.timeout
            )
        return GroupInfo.from_proto(reply)

    async def delete_group(self, group: str) -> int:
        """Removes ``group``'s commits in every topic; returns how many."""
        with converted_errors():
            reply = await self._connection.stub.DeleteGroup(
                pb.DeleteGroupRequest(group=group), timeout=self.timeout
            )
        return int(reply.commits_deleted)

    async def close(self) -> None:
        """Closes the connection."""
        await self._connection.close()
