"""``Admin``: creating, configuring, deleting and listing topics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from minikafka_client._connection import Closeable, Connection, converted_errors
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


class Admin(Closeable):
    """Topic administration, as the Rust client's ``Admin`` does it.

    ``host`` is ``host:port`` (``None``: ``$MINIKAFKA_HOST`` or
    ``127.0.0.1:9999``); ``timeout`` is each call's deadline in seconds;
    ``token`` is sent on every call to a server with tokens
    (``MINIKAFKA_AUTH_FILE``; ``None``: ``$MINIKAFKA_TOKEN``, if set).
    Failures raise :class:`MiniKafkaError` with the status code:
    ``NOT_FOUND``, ``ALREADY_EXISTS``, ``INVALID_ARGUMENT`` (naming the
    setting), ``UNAUTHENTICATED`` (a server with tokens, and no token or
    an unknown one), ``PERMISSION_DENIED`` (creating, updating and deleting
    need a token with ``admin = true``), ...
    """

    def __init__(
        self, host: str | None, timeout: float | None = 10.0, *, token: str | None = None
    ) -> None:
        self.timeout = timeout
        self._connection = Connection(host, token)

    def create_topic(self, name: str, settings: TopicSettings | None = None) -> TopicInfo:
        """Creates ``name`` with ``settings`` (absent ones follow the server's
        defaults). The same again succeeds; with other settings it fails
        with ``ALREADY_EXISTS``."""
        with converted_errors():
            reply = self._connection.stub.CreateTopic(
                create_request(name, settings), timeout=self.timeout
            )
        return TopicInfo.from_proto(reply)

    def update_topic(
        self,
        name: str,
        set: TopicSettings | None = None,
        reset: Iterable[SettingName] = (),
    ) -> TopicInfo:
        """Sets the settings present in ``set`` and returns those named in
        ``reset`` to the server's default; the others stay. Answers the
        topic as it is after the change."""
        with converted_errors():
            reply = self._connection.stub.UpdateTopic(
                update_request(name, set, reset), timeout=self.timeout
            )
        return TopicInfo.from_proto(reply)

    def delete_topic(self, name: str) -> int:
        """Deletes ``name`` and every message in it; returns how many it
        held. Created again, the topic starts at offset 1."""
        with converted_errors():
            reply = self._connection.stub.DeleteTopic(
                pb.DeleteTopicRequest(topic=name), timeout=self.timeout
            )
        return int(reply.messages_deleted)

    def describe_topic(self, name: str) -> TopicInfo:
        """One topic, with its effective settings and their sources;
        ``NOT_FOUND`` if it does not exist."""
        return TopicInfo.from_proto(self._connection.describe_topic(name, self.timeout))

    def list_topics_page(self, page_size: int = 0, page_token: str = "") -> TopicPage:
        """One page of topics, sorted by name: ``page_size`` at most (0: the
        server's default, 1,000), after ``page_token`` (a previous page's
        ``next_page_token``; empty: the first page)."""
        with converted_errors():
            reply = self._connection.stub.ListTopics(
                list_request(page_size, page_token), timeout=self.timeout
            )
        return topic_page(reply)

    def list_topics(self, page_size: int = 0) -> list[TopicInfo]:
        """Every topic, sorted by name, fetched ``page_size`` at a time."""
        topics: list[TopicInfo] = []
        token = ""
        while True:
            page = self.list_topics_page(page_size, token)
            topics.extend(page.topics)
            if not page.next_page_token:
                return topics
            token = page.next_page_token

    def commit_offset(
        self, group: str, topic: str, offset: int, metadata: str | None = None
    ) -> None:
        """Stores ``group``'s position in ``topic``: ``offset`` is the next
        offset it will read (1 to the topic's next offset; lower than before
        rewinds it), with optional ``metadata`` (at most 4 KiB)."""
        with converted_errors():
            self._connection.stub.CommitOffset(
                commit_request(group, topic, offset, metadata), timeout=self.timeout
            )

    def fetch_offset(self, group: str, topic: str) -> Commit | None:
        """``group``'s commit in ``topic``; ``None`` when it has none."""
        with converted_errors():
            reply = self._connection.stub.FetchOffset(
                pb.FetchOffsetRequest(group=group, topic=topic), timeout=self.timeout
            )
        return fetched(reply)

    def offset_for_time(self, topic: str, when: datetime) -> int:
        """Where a read of ``topic`` from ``when`` starts: the first message
        stored at or after it (the topic's next offset when none is)."""
        with converted_errors():
            reply = self._connection.stub.OffsetForTime(
                time_request(topic, when), timeout=self.timeout
            )
        return int(reply.offset)

    def list_groups(self) -> list[str]:
        """Every group's name, sorted, fetched a page at a time."""
        groups: list[str] = []
        token = ""
        while True:
            with converted_errors():
                reply = self._connection.stub.ListGroups(
                    pb.ListGroupsRequest(page_token=token), timeout=self.timeout
                )
            groups.extend(reply.groups)
            if not reply.next_page_token:
                return groups
            token = reply.next_page_token

    def describe_group(self, group: str) -> GroupInfo:
        """``group``'s position, lag and oldest unread message's age in each
        topic; ``NOT_FOUND`` for a group with no commit."""
        with converted_errors():
            reply = self._connection.stub.DescribeGroup(
                pb.DescribeGroupRequest(group=group), timeout=self.timeout
            )
        return GroupInfo.from_proto(reply)

    def delete_group(self, group: str) -> int:
        """Removes ``group``'s commits in every topic; returns how many."""
        with converted_errors():
            reply = self._connection.stub.DeleteGroup(
                pb.DeleteGroupRequest(group=group), timeout=self.timeout
            )
        return int(reply.commits_deleted)

    def close(self) -> None:
        """Closes the connection."""
        self._connection.close()
