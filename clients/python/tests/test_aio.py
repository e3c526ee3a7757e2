"""The asyncio API against a real mkfk-server: the same operations and
errors as the blocking one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import grpc
import grpc.aio
import pytest

import minikafka_client
from minikafka_client import DataLossError, Message, MiniKafkaError
from minikafka_client.aio import Consumer, Producer

T = TypeVar("T")
#: How long any one awaited thing may take before the test fails.
DEADLINE = 10.0


def run(coroutine: Awaitable[T]) -> T:
    """Runs a test's coroutine in a fresh event loop, within the deadline."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, DEADLINE)

    return asyncio.run(bounded())


def test_the_tests_use_the_installed_package() -> None:
    source = Path(__file__).resolve().parent.parent / "minikafka_client"
    installed = Path(minikafka_client.__file__).resolve().parent
    assert installed != source, "tests must import the package pip installed"
    assert (installed / "py.typed").is_file()


def test_produce_then_poll_and_long_poll(host: str, topic: str) -> None:
    async def scenario() -> None:
        async with Producer(host, topic) as producer, Consumer(host, topic) as consumer:
            assert await producer.send(b"one") == 1
            assert await producer.send_batch([b"two", b"three"]) == (2, 3)
            result = await consumer.poll()
            assert [(m.offset, m.payload) for m in result.messages] == [
                (1, b"one"),
                (2, b"two"),
                (3, b"three"),
            ]
            assert result.gap is None
            assert consumer.position == 4
            # A long poll returns as soon as a message is stored.
            waiting = asyncio.create_task(consumer.poll(wait=DEADLINE))
            await asyncio.sleep(0)
            assert await producer.send(b"four") == 4
            assert [m.payload for m in (await waiting).messages] == [b"four"]
            assert consumer.position == 5

    run(scenario())


def test_subscribe_from_the_end_streams_new_messages(host: str, topic: str) -> None:
    async def scenario() -> None:
        async with Producer(host, topic) as producer, Consumer(
            host, topic, start="end"
        ) as consumer:
            await producer.send_batch([b"old-1", b"old-2"])
            got: list[Message] = []
            stream = consumer.subscribe()
            # The subscription starts with the first message awaited; what
            # is stored from then on arrives, and nothing older.
            first = asyncio.ensure_future(anext(stream))
            while not got:
                await producer.send(b"new")
                done, _ = await asyncio.wait({first}, timeout=0.05)
                if done:
                    got.append(first.result())
            assert got[0].payload == b"new" and got[0].offset >= 3
            await producer.send(b"last")
            async for message in stream:
                got.append(message)
                if message.payload == b"last":
                    break
            await stream.aclose()
            assert [m.offset for m in got] == list(range(got[0].offset, got[-1].offset + 1))
            assert consumer.position == got[-1].offset + 1

    run(scenario())


def test_errors_are_the_blocking_apis_errors(host: str, topic: str) -> None:
    async def scenario() -> None:
        async with Consumer(host, topic) as consumer:
            with pytest.raises(MiniKafkaError) as caught:
                await consumer.poll()
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
            assert topic in caught.value.details
            assert isinstance(caught.value.__cause__, grpc.aio.AioRpcError)
        async with Producer(host, "a/b") as producer:
            with pytest.raises(MiniKafkaError) as caught:
                await producer.send(b"x")
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        async with Producer(host, topic) as producer, Consumer(host, topic, start=3) as consumer:
            await producer.send(b"only")
            with pytest.raises(MiniKafkaError) as caught:
                await consumer.poll()
            assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE

    run(scenario())


def test_an_asyncio_data_loss_carries_its_offsets() -> None:
    trailers = grpc.aio.Metadata(
        ("minikafka-damaged-first-offset", "17"), ("minikafka-next-good-offset", "21")
    )
    failed = grpc.aio.AioRpcError(
        grpc.StatusCode.DATA_LOSS, grpc.aio.Metadata(), trailers, details="damaged"
    )
    error = MiniKafkaError.from_rpc_error(failed)
    assert isinstance(error, DataLossError)
    assert (error.first_offset, error.next_good_offset) == (17, 21)
    assert error.details == "damaged"
