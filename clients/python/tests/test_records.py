"""Keys, headers, idempotent produce and conditional appends, against a
real mkfk-server (address in MINIKAFKA_TEST_HOST)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from minikafka_client import (
    Admin,
    Consumer,
    Header,
    Message,
    MiniKafkaError,
    NextOffsetMismatchError,
    Producer,
    Record,
    SequenceOutOfOrderError,
    aio,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RECORDS = [
    Record(b"plain"),
    Record(
        b"with both",
        key=b"\x00\x01\xff",
        headers=[("trace", b"a"), Header("content-type", b"\xfe\x00"), ("trace", b"")],
    ),
    Record(b"", key=b"key only"),
]


def read_all(host: str, topic: str) -> list[Message]:
    """Every message of the topic, from the earliest."""
    messages: list[Message] = []
    with Consumer(host, topic) as consumer:
        while batch := consumer.poll().messages:
            messages.extend(batch)
    return messages


def lost_answer() -> grpc.aio.AioRpcError:
    """What a dropped connection after the server stored a batch looks like."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="the answer was lost on the way",
    )


class DropsAnswers:
    """Stands in for a producer's stub: each Produce reaches the real server
    and is stored, and the answers of the first ``drops`` are lost."""

    def __init__(self, stub: Any, drops: int) -> None:
        self._stub, self.drops, self.sent = stub, drops, 0

    def Produce(self, request: Any, timeout: float | None) -> Any:  # noqa: N802 (the rpc's name)
        self.sent += 1
        reply = self._stub.Produce(request, timeout=timeout)
        if self.drops > 0:
            self.drops -= 1
            raise lost_answer()
        return reply


class DropsAnswersAsync(DropsAnswers):
    """:class:`DropsAnswers` for the asyncio stub."""

    async def Produce(self, request: Any, timeout: float | None) -> Any:  # noqa: N802
        self.sent += 1
        reply = await self._stub.Produce(request, timeout=timeout)
        if self.drops > 0:
            self.drops -= 1
            raise lost_answer()
        return reply


def dropping(producer: Any, drops: int, kind: type[DropsAnswers] = DropsAnswers) -> DropsAnswers:
    """Puts a :class:`DropsAnswers` between ``producer`` and its server."""
    stub = kind(producer._connection.stub, drops)
    producer._connection.stub = stub
    return stub


def test_keys_and_headers_come_back_as_sent(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        assert producer.send_records(RECORDS) == (1, 3)
        assert producer.send_record(Record(b"one more", key=b"k")) == 4
    messages = read_all(host, topic)
    assert [(m.payload, m.key, m.headers) for m in messages] == [
        (r.payload, r.key, r.headers) for r in [*RECORDS, Record(b"one more", key=b"k")]
    ]
    assert messages[1].headers[1] == Header("content-type", b"\xfe\x00")
    with Admin(host) as admin:
        size = admin.describe_topic(topic).size_bytes
    # Payloads, keys, and header names and values.
    assert size == len(b"plain" b"with both" b"\x00\x01\xff" b"tracea" b"content-type\xfe\x00"
                       b"trace" b"key only" b"one more" b"k")


def test_a_bad_header_name_is_refused_and_stores_nothing(host: str, topic: str) -> None:
    with Producer(host, topic) as producer, pytest.raises(MiniKafkaError) as caught:
        producer.send_records([Record(b"fine"), Record(b"bad", headers=[("", b"x")])])
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "records[1]" in caught.value.details
    with Admin(host) as admin, pytest.raises(MiniKafkaError) as missing:
        admin.describe_topic(topic)
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_an_idempotent_producer_retries_a_lost_answer_without_a_copy(
    host: str, topic: str
) -> None:
    with Producer(host, topic, idempotent=True) as producer:
        assert producer.send(b"before") == 1
        stub = dropping(producer, drops=1)
        # Stored, answer lost, retried: the offsets the first attempt got.
        assert producer.send_records([Record(b"a", key=b"k"), Record(b"b")]) == (2, 3)
        assert stub.sent == 2
        assert producer.send(b"after") == 4
    assert [m.payload for m in read_all(host, topic)] == [b"before", b"a", b"b", b"after"]


def test_a_plain_producer_does_not_retry(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        stub = dropping(producer, drops=1)
        with pytest.raises(MiniKafkaError) as caught:
            producer.send(b"once")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert stub.sent == 1


def test_an_idempotent_producer_gives_up_when_its_retry_time_runs_out(
    host: str, topic: str
) -> None:
    with Producer(host, topic, idempotent=True, retry_for=0.3) as producer:
        stub = dropping(producer, drops=1_000_000)
        with pytest.raises(MiniKafkaError) as caught:
            producer.send(b"x")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert stub.sent > 1
    # However many times it was sent, it was stored once.
    assert [m.payload for m in read_all(host, topic)] == [b"x"]


def test_a_sequence_gap_is_refused_with_the_expected_sequence(host: str, topic: str) -> None:
    with Producer(host, topic, idempotent=True) as producer:
        assert producer.send(b"first") == 1
        (lane,) = producer._lanes._idle  # type: ignore[union-attr]
        lane.next_sequence += 4
        with pytest.raises(SequenceOutOfOrderError) as caught:
            producer.send(b"skips ahead")
        assert caught.value.expected_sequence == lane.next_sequence - 4
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
        # The lane the server disagreed with is dropped; a new one is used.
        assert producer.send(b"second") == 2
        (fresh,) = producer._lanes._idle  # type: ignore[union-attr]
        assert fresh.producer_id != lane.producer_id
    assert [m.payload for m in read_all(host, topic)] == [b"first", b"second"]


def test_concurrent_idempotent_sends_each_get_their_own_offsets(host: str, topic: str) -> None:
    offsets: list[int] = []
    with Producer(host, topic, idempotent=True) as producer:

        def send_some() -> None:
            for _ in range(20):
                offsets.append(producer.send(b"x"))

        threads = [threading.Thread(target=send_some) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(offsets) == list(range(1, 121))


def test_a_conditional_append_stores_only_at_the_expected_offset(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        with pytest.raises(NextOffsetMismatchError) as caught:
            producer.send_records([Record(b"event")], expected_next_offset=2)
        assert caught.value.next_offset == 1
        with Admin(host) as admin, pytest.raises(MiniKafkaError):
            admin.describe_topic(topic)  # not created by the refused append
        assert producer.send_records([Record(b"event")], expected_next_offset=1) == (1, 1)
        assert producer.send_batch([b"next"], expected_next_offset=2) == (2, 2)
    with Producer(host, topic, idempotent=True) as producer:
        with pytest.raises(NextOffsetMismatchError) as caught:
            producer.send_batch([b"stale"], expected_next_offset=2)
        assert caught.value.next_offset == 3
    assert [m.payload for m in read_all(host, topic)] == [b"event", b"next"]


def test_the_asyncio_producer_sends_records_and_retries(host: str, topic: str) -> None:
    async def scenario() -> None:
        async with aio.Producer(host, topic, idempotent=True) as producer:
            assert await producer.send_records(RECORDS) == (1, 3)
            stub = dropping(producer, drops=1, kind=DropsAnswersAsync)
            assert await producer.send_record(Record(b"retried", headers=[("h", b"v")])) == 4
            assert stub.sent == 2
            with pytest.raises(NextOffsetMismatchError) as caught:
                await producer.send_batch([b"stale"], expected_next_offset=1)
            assert caught.value.next_offset == 5
        async with aio.Consumer(host, topic) as consumer:
            messages = (await consumer.poll()).messages
        assert [(m.payload, m.key, m.headers) for m in messages] == [
            (r.payload, r.key, r.headers)
            for r in [*RECORDS, Record(b"retried", headers=[("h", b"v")])]
        ]

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_the_example_consumer_prints_keys_and_headers_as_mkfk_consumer_does(
    host: str, topic: str
) -> None:
    with Producer(host, topic) as producer:
        producer.send_records(RECORDS)
    consumed = subprocess.run(
        [sys.executable, str(EXAMPLES / "consumer.py"), "--host", host, "--topic", topic,
         "--no-follow", "--format", "json"],
        capture_output=True,
        timeout=30,
    )
    assert consumed.returncode == 0, consumed.stderr.decode()
    lines = [json.loads(line) for line in consumed.stdout.decode().splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("offset", "timestamp")} for line in lines] == [
        {"payload": "plain"},
        {
            "payload": "with both",
            "key_base64": "AAH/",
            "headers": [
                {"name": "trace", "value": "a"},
                {"name": "content-type", "value_base64": "/gA="},
                {"name": "trace", "value": ""},
            ],
        },
        {"payload": "", "key": "key only"},
    ]
