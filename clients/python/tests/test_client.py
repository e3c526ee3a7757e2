"""The Python client against a real mkfk-server (address in MINIKAFKA_TEST_HOST)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from datetime import timezone
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from minikafka_client import Consumer, Message, MiniKafkaError, Producer
from minikafka_client._generated.protocol import minikafka_pb2 as compat_pb
from minikafka_client._generated.protocol import minikafka_pb2_grpc as compat_grpc

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def read_all(consumer: Consumer) -> list[Message]:
    """Polls until caught up."""
    messages: list[Message] = []
    while batch := consumer.poll().messages:
        messages.extend(batch)
    return messages


def test_a_thousand_messages_come_back_byte_for_byte(host: str, topic: str) -> None:
    payloads = [bytes(range(256)), b"", bytes(range(255, -1, -1)) * 3, b"\x00", b""]
    payloads += [bytes([b]) for b in range(256)]
    payloads.append(bytes(range(256)) * (MIB // 256))  # exactly the 1 MiB limit
    payloads += [f"message {i} \u00e9\u2603".encode() for i in range(1000 - len(payloads))]
    assert len(payloads) == 1000

    with Producer(host, topic) as producer:
        for i in range(10):
            first, last = producer.send_batch(payloads[i * 100 : (i + 1) * 100])
            assert (first, last) == (i * 100 + 1, i * 100 + 100)

    with Consumer(host, topic) as consumer:
        messages = read_all(consumer)
        assert consumer.position == 1001
    assert [m.offset for m in messages] == list(range(1, 1001))
    assert [m.payload for m in messages] == payloads
    assert all(m.timestamp.tzinfo == timezone.utc for m in messages)
    assert all(a.timestamp <= b.timestamp for a, b in zip(messages, messages[1:]))

    with Consumer(host, topic, start=500) as consumer:
        result = consumer.poll(max_messages=10)
        assert [m.offset for m in result.messages] == list(range(500, 510))
        assert result.gap is None
        assert consumer.position == 510


def test_send_returns_consecutive_offsets(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        assert producer.send(b"one") == 1
        assert producer.send_batch([b"two", b"three"]) == (2, 3)
        assert producer.send(b"") == 4


def test_unknown_topic_is_not_found(host: str, topic: str) -> None:
    with Consumer(host, topic) as consumer, pytest.raises(MiniKafkaError) as caught:
        consumer.poll()
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert topic in caught.value.details
    assert isinstance(caught.value.__cause__, grpc.RpcError)


@pytest.mark.parametrize("bad", ["a/b", "", ".", "..", "x" * 250])
def test_a_bad_topic_name_is_invalid_argument(host: str, bad: str) -> None:
    with Producer(host, bad) as producer, pytest.raises(MiniKafkaError) as caught:
        producer.send(b"x")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_rejected_batches_store_nothing(host: str, topic: str) -> None:
    with Producer(host, topic) as producer, Consumer(host, topic) as consumer:
        with pytest.raises(MiniKafkaError) as caught:
            producer.send_batch([])
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(MiniKafkaError) as caught:
            producer.send_batch([b"fits", b"x" * (MIB + 1)])
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(MiniKafkaError) as caught:
            consumer.describe_topic()
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert producer.send(b"first") == 1


def test_reading_past_the_end_is_out_of_range(host: str, topic: str) -> None:
    with Producer(host, topic) as producer:
        producer.send(b"only")
    with Consumer(host, topic, start=3) as consumer, pytest.raises(MiniKafkaError) as caught:
        consumer.poll()
    assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE


def test_subscribe_streams_messages_stored_after_it_starts(host: str, topic: str) -> None:
    producer = Producer(host, topic)
    consumer = Consumer(host, topic, start="end")
    producer.send_batch([b"old-1", b"old-2"])
    received: queue.Queue[Message | BaseException] = queue.Queue()

    def follow() -> None:
        try:
            for message in consumer.subscribe():
                received.put(message)
        except BaseException as error:  # handed to the test thread
            received.put(error)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    sent: dict[int, bytes] = {}
    got: list[Message] = []

    def take(timeout: float) -> None:
        item = received.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        got.append(item)

    try:
        # The subscription has no visible start: send until something arrives.
        deadline = time.monotonic() + 10
        while not got:
            assert time.monotonic() < deadline, "the subscription received nothing"
            payload = f"probe-{len(sent)}".encode()
            sent[producer.send(payload)] = payload
            try:
                take(timeout=0.1)
            except queue.Empty:
                pass
        first, last = producer.send_batch([b"after-1", b"after-2", b"after-3"])
        sent.update(zip(range(first, last + 1), [b"after-1", b"after-2", b"after-3"]))
        while got[-1].offset < last:
            take(timeout=10)
    finally:
        consumer.close()
        producer.close()
    thread.join(timeout=5)
    assert not thread.is_alive(), "close() did not end the subscription"
    assert received.empty()

    offsets = [m.offset for m in got]
    assert offsets == list(range(offsets[0], last + 1)), "consecutive, nothing skipped"
    assert offsets[0] >= 3, "nothing stored before the subscription"
    assert all(m.payload == sent[m.offset] for m in got)
    assert consumer.position == last + 1


def test_subscribe_from_a_position_then_follows(host: str, topic: str) -> None:
    with Producer(host, topic) as producer, Consumer(host, topic, start=2) as consumer:
        producer.send_batch([b"a", b"b", b"c"])
        messages = consumer.subscribe(max_batch=1)
        assert [next(messages).payload, next(messages).payload] == [b"b", b"c"]
        assert consumer.position == 4
        producer.send(b"d")
        message = next(messages)
        assert (message.offset, message.payload) == (4, b"d")
        messages.close()
        assert consumer.position == 5


def test_a_long_poll_returns_as_soon_as_a_message_is_stored(host: str, topic: str) -> None:
    with Producer(host, topic) as producer, Consumer(host, topic, start="end") as consumer:
        producer.send(b"before")
        assert consumer.poll().messages == []  # resolves "end": after "before"
        assert consumer.position == 2
        timer = threading.Timer(0.5, producer.send, args=(b"during",))
        started = time.monotonic()
        timer.start()
        try:
            result = consumer.poll(wait=5)
        finally:
            timer.join()
        elapsed = time.monotonic() - started
    assert [(m.offset, m.payload) for m in result.messages] == [(2, b"during")]
    assert 0.4 < elapsed < 3, f"the long poll took {elapsed:.2f}s"
    assert consumer.position == 3


def test_a_long_poll_on_a_quiet_topic_comes_back_empty(host: str, topic: str) -> None:
    with Producer(host, topic) as producer, Consumer(host, topic, start="end") as consumer:
        producer.send(b"x")
        started = time.monotonic()
        assert consumer.poll(wait=0.3).messages == []
        assert time.monotonic() - started >= 0.25


def test_reflection_lists_every_service(host: str) -> None:
    with grpc.insecure_channel(host) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    for service in ["minikafka.v1.MiniKafka", "protocol.MiniKafka", "grpc.health.v1.Health"]:
        assert service in services


def test_the_original_go_api_shares_offsets_with_v1(host: str, topic: str) -> None:
    with grpc.insecure_channel(host) as channel, Producer(host, topic) as producer:
        compat = compat_grpc.MiniKafkaStub(channel)

        def produce(payload: bytes) -> int:
            request = compat_pb.ProduceRequest(
                topic=compat_pb.Topic(topic=topic), payload=compat_pb.Payload(payload=payload)
            )
            return compat.Produce(request, timeout=10).msg_number

        assert [produce(b"go-1"), produce(b"go-2")] == [1, 2]
        assert producer.send(b"v1-3") == 3
        assert produce(b"go-4") == 4

        reply = compat.Poll(compat_pb.PollRequest(topic=topic), timeout=10)
        assert [p.payload for p in reply.payloads] == [b"go-1", b"go-2", b"v1-3", b"go-4"]
        assert reply.new_read_from.msg_number == 5
        reply = compat.Poll(
            compat_pb.PollRequest(topic=topic, read_from=compat_pb.MsgNumber(msg_number=3)), timeout=10
        )
        assert [p.payload for p in reply.payloads] == [b"v1-3", b"go-4"]

        with pytest.raises(grpc.RpcError) as caught:
            compat.Poll(compat_pb.PollRequest(topic=topic + "-missing"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    with Consumer(host, topic) as consumer:
        messages = consumer.poll().messages
    assert [(m.offset, m.payload) for m in messages] == [
        (1, b"go-1"), (2, b"go-2"), (3, b"v1-3"), (4, b"go-4")
    ]


def run_example(name: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        input=stdin,
        capture_output=True,
        timeout=30,
    )


def test_the_example_programs(host: str, topic: str) -> None:
    lines = [f"line {i}" for i in range(1, 100)] + ["caf\u00e9"]
    produced = run_example("producer.py", "--host", host, "--topic", topic,
                           stdin="\n".join(lines).encode() + b"\n")
    assert produced.returncode == 0, produced.stderr.decode()
    assert f"stored 100 messages in '{topic}' (offsets 1..100)" in produced.stderr.decode()

    consumed = run_example("consumer.py", "--host", host, "--topic", topic, "--no-follow", "--format", "json")
    assert consumed.returncode == 0, consumed.stderr.decode()
    records = [json.loads(line) for line in consumed.stdout.decode().splitlines()]
    assert [r["offset"] for r in records] == list(range(1, 101))
    assert [r["payload"] for r in records] == lines
    assert all(r["timestamp"].endswith("Z") and len(r["timestamp"]) == 24 for r in records)

    # Raw output of non-UTF-8 bytes, --from and --max while following.
    run_example("producer.py", "--host", host, "--topic", topic, stdin=b"\xff\xfe\n")
    followed = run_example("consumer.py", "--host", host, "--topic", topic, "--from", "100", "--max", "2")
    assert followed.returncode == 0, followed.stderr.decode()
    assert followed.stdout == "caf\u00e9\n".encode() + b"\xff\xfe\n"
    as_json = run_example("consumer.py", "--host", host, "--topic", topic, "--from", "101", "--format", "json", "--no-follow")
    assert json.loads(as_json.stdout)["payload_base64"] == "//4="
