"""Tokens against a real mkfk-server with ``MINIKAFKA_AUTH_FILE``: every
call and stream, blocking and asyncio, is refused without a token and
served with one, given as ``token=`` or by ``$MINIKAFKA_TOKEN``."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from minikafka_client import Admin, Consumer, MiniKafkaError, Producer, aio

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture(autouse=True)
def no_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``token=``, these tests send no token unless they set one."""
    monkeypatch.delenv("MINIKAFKA_TOKEN", raising=False)


def refused(error: pytest.ExceptionInfo[MiniKafkaError]) -> None:
    assert error.value.code == UNAUTHENTICATED, error.value


def test_without_a_token_every_call_is_unauthenticated(auth_host: str, topic: str) -> None:
    with Producer(auth_host, topic) as producer, pytest.raises(MiniKafkaError) as error:
        producer.send(b"x")
    refused(error)
    with Consumer(auth_host, topic) as consumer:
        with pytest.raises(MiniKafkaError) as error:
            consumer.poll()
        refused(error)
        with pytest.raises(MiniKafkaError) as error:
            next(consumer.subscribe())
        refused(error)
    with Admin(auth_host) as admin, pytest.raises(MiniKafkaError) as error:
        admin.describe_topic(topic)
    refused(error)


def test_with_a_token_produce_poll_and_subscribe_succeed(
    auth_host: str, topic: str, client_token: str
) -> None:
    with Producer(auth_host, topic, token=client_token) as producer:
        assert producer.send_batch([b"one", b"two"]) == (1, 2)
    with Consumer(auth_host, topic, token=client_token) as consumer:
        assert [m.payload for m in consumer.poll().messages] == [b"one", b"two"]
    with Consumer(auth_host, topic, 2, token=client_token) as consumer:
        assert next(consumer.subscribe()).payload == b"two"


def test_an_admin_token_describes_and_a_client_token_may_not_create(
    auth_host: str, topic: str, client_token: str, admin_token: str
) -> None:
    with Admin(auth_host, token=admin_token) as admin:
        assert admin.create_topic(topic).name == topic
        assert admin.describe_topic(topic).next_offset == 1
    with Admin(auth_host, token=client_token) as admin, pytest.raises(MiniKafkaError) as error:
        admin.create_topic(topic + "-not")
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED, error.value


def test_the_token_defaults_to_minikafka_token(
    auth_host: str, topic: str, client_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIKAFKA_TOKEN", client_token)
    with Producer(auth_host, topic) as producer:
        assert producer.send(b"from the environment") == 1
    with Consumer(auth_host, topic) as consumer:
        assert [m.payload for m in consumer.poll().messages] == [b"from the environment"]


def test_asyncio_without_a_token_is_unauthenticated_and_with_one_succeeds(
    auth_host: str, topic: str, client_token: str, admin_token: str
) -> None:
    async def scenario() -> None:
        async with aio.Producer(auth_host, topic) as producer:
            with pytest.raises(MiniKafkaError) as error:
                await producer.send(b"x")
            refused(error)
        async with aio.Consumer(auth_host, topic) as consumer:
            with pytest.raises(MiniKafkaError) as error:
                await consumer.poll()
            refused(error)
            with pytest.raises(MiniKafkaError) as error:
                await anext(consumer.subscribe())
            refused(error)
        async with aio.Admin(auth_host) as admin:
            with pytest.raises(MiniKafkaError) as error:
                await admin.describe_topic(topic)
            refused(error)

        async with aio.Producer(auth_host, topic, token=client_token) as producer:
            assert await producer.send_batch([b"one", b"two"]) == (1, 2)
        async with aio.Consumer(auth_host, topic, token=client_token) as consumer:
            assert [m.payload for m in (await consumer.poll()).messages] == [b"one", b"two"]
        async with aio.Consumer(auth_host, topic, 2, token=client_token) as consumer:
            assert (await anext(consumer.subscribe())).payload == b"two"
        async with aio.Admin(auth_host, token=admin_token) as admin:
            assert (await admin.describe_topic(topic)).next_offset == 3

    asyncio.run(asyncio.wait_for(scenario(), 10.0))
