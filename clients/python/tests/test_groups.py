"""Consumer groups and reads from a time against a real mkfk-server,
blocking and asyncio: a group consumer resumes at its commit, auto-commit
commits what polls returned, and the admin calls list, describe (lag),
reset and delete groups."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from minikafka_client import Admin, Consumer, MiniKafkaError, Producer
from minikafka_client import aio


def test_a_group_consumer_resumes_at_its_commit(host: str, topic: str) -> None:
    group = f"py-{uuid.uuid4().hex[:12]}"
    with Producer(host, topic) as producer:
        producer.send_batch([f"m{i}".encode() for i in range(1, 11)])
    with Consumer(host, topic, group=group) as consumer:
        assert [m.offset for m in consumer.poll(max_messages=4).messages] == [1, 2, 3, 4]
        consumer.commit()
    with Admin(host) as admin:
        commit = admin.fetch_offset(group, topic)
        assert commit is not None and commit.offset == 5, "the next offset to read"
        assert commit.time.tzinfo is not None
    with Consumer(host, topic, group=group, auto_commit=0) as consumer:
        assert consumer.poll(max_messages=4).messages[0].offset == 5
        consumer.poll(max_messages=4)  # commits what the last poll returned
        with Admin(host) as admin:
            assert admin.fetch_offset(group, topic).offset == 9  # type: ignore[union-attr]
    # Closing with auto-commit committed the rest.
    with Admin(host) as admin:
        assert admin.fetch_offset(group, topic).offset == 11  # type: ignore[union-attr]
        info = admin.describe_group(group)
        assert info.name == group
        assert [(t.topic, t.lag, t.oldest_unread_age) for t in info.topics] == [(topic, 0, None)]
        assert group in admin.list_groups()
        admin.commit_offset(group, topic, 3, metadata="rewound")
        info = admin.describe_group(group)
        assert (info.topics[0].lag, info.topics[0].commit.metadata) == (8, "rewound")
        assert info.topics[0].oldest_unread_age is not None
        with pytest.raises(MiniKafkaError) as raised:
            admin.commit_offset(group, topic, 12)
        assert raised.value.code == grpc.StatusCode.OUT_OF_RANGE
        assert admin.delete_group(group) == 1
        with pytest.raises(MiniKafkaError) as raised:
            admin.describe_group(group)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND
    with Consumer(host, topic) as consumer, pytest.raises(ValueError):
        consumer.commit()


def test_reads_start_at_a_time(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        producer.send(b"old")
    with Admin(host) as admin:
        future = datetime.now(timezone.utc) + timedelta(days=1)
        assert admin.offset_for_time(topic, future) == 2, "after every message: the end"
        past = datetime.now(timezone.utc) - timedelta(days=1)
        assert admin.offset_for_time(topic, past) == 1
    with Consumer(host, topic, start=past) as consumer:
        assert [m.payload for m in consumer.poll().messages] == [b"old"]


def test_the_asyncio_client_does_the_same(host: str, topic: str) -> None:
    group = f"py-aio-{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        async with aio.Producer(host, topic) as producer:
            await producer.send_batch([b"a", b"b", b"c"])
        async with aio.Consumer(host, topic, group=group, auto_commit=60) as consumer:
            assert len((await consumer.poll()).messages) == 3
        async with aio.Admin(host) as admin:
            commit = await admin.fetch_offset(group, topic)
            assert commit is not None and commit.offset == 4, "close committed"
            assert (await admin.describe_group(group)).topics[0].lag == 0
            assert group in await admin.list_groups()
            past = datetime.now(timezone.utc) - timedelta(hours=1)
            assert await admin.offset_for_time(topic, past) == 1
            assert await admin.delete_group(group) == 1

    asyncio.run(scenario())
