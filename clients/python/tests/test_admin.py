"""Topic administration against a real mkfk-server, blocking and asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest

from minikafka_client import (
    FOREVER,
    Admin,
    Consumer,
    Effective,
    MiniKafkaError,
    Producer,
    SettingSource,
    TopicSettings,
)
from minikafka_client import aio

DAY = timedelta(days=1)


@pytest.fixture
def admin(host: str) -> Iterator[Admin]:
    with Admin(host) as admin:
        yield admin


def test_create_is_idempotent_and_other_settings_already_exist(admin: Admin, topic: str) -> None:
    settings = TopicSettings(retention=DAY, retention_bytes=10_000)
    created = admin.create_topic(topic, settings)
    assert created.name == topic
    assert (created.next_offset, created.message_count) == (1, 0)
    assert created.oldest_timestamp is None

    again = admin.create_topic(topic, settings)
    assert again.settings == created.settings

    with pytest.raises(MiniKafkaError) as raised:
        admin.create_topic(topic, TopicSettings(retention=FOREVER))
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert topic in raised.value.details
    # Refused, it changed nothing.
    assert admin.describe_topic(topic).settings == created.settings


def test_describe_shows_each_setting_with_its_source(host: str, admin: Admin, topic: str) -> None:
    admin.create_topic(topic, TopicSettings(retention=FOREVER, max_message_bytes=1_000))
    with Producer(host, topic) as producer:
        assert producer.send_batch([b"abc", b"de"]) == (1, 2)

    info = admin.describe_topic(topic)
    assert (info.earliest_offset, info.next_offset, info.message_count) == (1, 3, 2)
    assert info.size_bytes == 5
    assert info.oldest_timestamp is not None
    assert info.settings is not None
    assert info.settings.retention == Effective(FOREVER, SettingSource.TOPIC)
    assert info.settings.retention_bytes == Effective(None, SettingSource.SERVER_DEFAULT)
    assert info.settings.max_message_bytes == Effective(1_000, SettingSource.TOPIC)

    # The topic's own limit is enforced.
    with Producer(host, topic) as producer:
        with pytest.raises(MiniKafkaError) as raised:
            producer.send(b"x" * 1_001)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_topic_without_settings_follows_the_server(admin: Admin, topic: str) -> None:
    info = admin.create_topic(topic)
    assert info.settings is not None
    assert info.settings.retention.source == SettingSource.SERVER_DEFAULT
    assert info.settings.retention_bytes == Effective(None, SettingSource.SERVER_DEFAULT)
    # The server's default limit, 1 MiB.
    assert info.settings.max_message_bytes == Effective(1024 * 1024, SettingSource.SERVER_DEFAULT)


def test_update_sets_and_resets_only_what_it_names(admin: Admin, topic: str) -> None:
    admin.create_topic(topic, TopicSettings(retention=DAY, max_message_bytes=500))

    updated = admin.update_topic(topic, set=TopicSettings(retention_bytes=4_096))
    assert updated.settings is not None
    assert updated.settings.retention == Effective(DAY, SettingSource.TOPIC)
    assert updated.settings.retention_bytes == Effective(4_096, SettingSource.TOPIC)
    assert updated.settings.max_message_bytes == Effective(500, SettingSource.TOPIC)

    updated = admin.update_topic(
        topic, set=TopicSettings(retention=timedelta(hours=3)), reset=["max_message_bytes"]
    )
    assert updated.settings is not None
    assert updated.settings.retention == Effective(timedelta(hours=3), SettingSource.TOPIC)
    assert updated.settings.retention_bytes == Effective(4_096, SettingSource.TOPIC)
    assert updated.settings.max_message_bytes.source == SettingSource.SERVER_DEFAULT
    assert admin.describe_topic(topic).settings == updated.settings


def test_list_goes_through_every_page(admin: Admin, topic: str) -> None:
    names = [f"{topic}-{i}" for i in range(7)]
    for name in names:
        admin.create_topic(name)

    first = admin.list_topics_page(page_size=2)
    assert len(first.topics) == 2
    assert first.next_page_token

    listed = [t.name for t in admin.list_topics(page_size=2)]
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed)), "no topic is listed twice"
    assert [name for name in listed if name.startswith(topic)] == sorted(names)


def test_delete_answers_the_count_then_the_topic_is_gone(host: str, admin: Admin, topic: str) -> None:
    with Producer(host, topic) as producer:
        producer.send_batch([b"a", b"b", b"c"])
    assert admin.delete_topic(topic) == 3

    for call in (admin.describe_topic, admin.delete_topic):
        with pytest.raises(MiniKafkaError) as raised:
            call(topic)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND
    with Consumer(host, topic) as consumer:
        with pytest.raises(MiniKafkaError) as raised:
            consumer.poll()
    assert raised.value.code == grpc.StatusCode.NOT_FOUND

    # Created again, it is a new topic starting at offset 1.
    assert admin.create_topic(topic).next_offset == 1


@pytest.mark.parametrize(
    ("settings", "reset", "named"),
    [
        (TopicSettings(retention=timedelta(0)), [], "retention"),
        (TopicSettings(retention=timedelta(seconds=-5)), [], "retention"),
        (TopicSettings(retention_bytes=0), [], "retention_bytes"),
        (TopicSettings(max_message_bytes=0), [], "max_message_bytes"),
        (TopicSettings(max_message_bytes=1 << 40), [], "max_message_bytes"),
        (TopicSettings(retention_bytes=10), ["retention_bytes"], "retention_bytes"),
        (TopicSettings(), ["size"], "size"),
    ],
)
def test_bad_settings_name_the_setting_and_change_nothing(
    admin: Admin, topic: str, settings: TopicSettings, reset: list[str], named: str
) -> None:
    before = admin.create_topic(topic, TopicSettings(retention=DAY))
    with pytest.raises(MiniKafkaError) as raised:
        admin.update_topic(topic, set=settings, reset=reset)  # type: ignore[arg-type]
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert named in raised.value.details
    assert admin.describe_topic(topic).settings == before.settings

    if not reset:
        fresh = f"{topic}-new"
        with pytest.raises(MiniKafkaError) as raised:
            admin.create_topic(fresh, settings)
        assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert named in raised.value.details
        with pytest.raises(MiniKafkaError) as raised:
            admin.describe_topic(fresh)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_a_negative_size_is_refused_before_it_is_sent() -> None:
    with pytest.raises(ValueError, match="retention_bytes"):
        TopicSettings(retention_bytes=-1)
    with pytest.raises(TypeError, match="retention"):
        TopicSettings(retention=3600)  # type: ignore[arg-type]


def test_the_asyncio_admin_does_the_same(host: str, topic: str) -> None:
    async def scenario() -> None:
        async with aio.Admin(host) as admin:
            created = await admin.create_topic(topic, TopicSettings(retention_bytes=1_000))
            assert created.settings is not None
            assert created.settings.retention_bytes == Effective(1_000, SettingSource.TOPIC)
            await admin.create_topic(topic, TopicSettings(retention_bytes=1_000))
            with pytest.raises(MiniKafkaError) as raised:
                await admin.create_topic(topic)
            assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS

            updated = await admin.update_topic(topic, reset=["retention_bytes"])
            assert updated.settings is not None
            assert updated.settings.retention_bytes.source == SettingSource.SERVER_DEFAULT

            for i in range(3):
                await admin.create_topic(f"{topic}-{i}")
            listed = [t.name for t in await admin.list_topics(page_size=2)]
            assert [n for n in listed if n.startswith(topic)] == [
                topic,
                *(f"{topic}-{i}" for i in range(3)),
            ]
            page = await admin.list_topics_page(page_size=1)
            assert len(page.topics) == 1 and page.next_page_token

            assert await admin.delete_topic(topic) == 0
            with pytest.raises(MiniKafkaError) as raised:
                await admin.describe_topic(topic)
            assert raised.value.code == grpc.StatusCode.NOT_FOUND

    asyncio.run(asyncio.wait_for(scenario(), 10.0))
