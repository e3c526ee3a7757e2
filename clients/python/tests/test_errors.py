"""Statuses become the client's exceptions (no server needed): DATA_LOSS
carries the damaged offsets from its trailers."""

from __future__ import annotations

import grpc
import pytest

from minikafka_client import (
    Consumer,
    DataLossError,
    MiniKafkaError,
    NextOffsetMismatchError,
    SequenceOutOfOrderError,
    aio,
)

MESSAGE = (
    "topic 'orders': offsets 17..=20 are damaged on disk and cannot be read; "
    "the first good offset after them is 21"
)


class FailedCall(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A failed call as grpcio raises it: the status and its trailers."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailers

    def initial_metadata(self) -> tuple:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def test_data_loss_carries_the_offsets_of_its_trailers() -> None:
    trailers = (
        ("minikafka-damaged-first-offset", "17"),
        ("minikafka-next-good-offset", "21"),
    )
    error = MiniKafkaError.from_rpc_error(FailedCall(grpc.StatusCode.DATA_LOSS, MESSAGE, trailers))
    assert isinstance(error, DataLossError)
    assert (error.first_offset, error.next_good_offset) == (17, 21)
    assert error.code == grpc.StatusCode.DATA_LOSS
    assert error.details == MESSAGE
    assert str(error) == f"DATA_LOSS: {MESSAGE}"


@pytest.mark.parametrize(
    "trailers",
    [
        (),
        (("minikafka-damaged-first-offset", "17"),),
        (("minikafka-damaged-first-offset", "x"), ("minikafka-next-good-offset", "21")),
    ],
)
def test_data_loss_without_its_offsets_is_a_plain_error(trailers: tuple) -> None:
    error = MiniKafkaError.from_rpc_error(FailedCall(grpc.StatusCode.DATA_LOSS, MESSAGE, trailers))
    assert type(error) is MiniKafkaError
    assert error.code == grpc.StatusCode.DATA_LOSS


def test_other_statuses_keep_their_code_and_details() -> None:
    error = MiniKafkaError.from_rpc_error(FailedCall(grpc.StatusCode.NOT_FOUND, "topic 'x' not found"))
    assert type(error) is MiniKafkaError
    assert (error.code, error.details) == (grpc.StatusCode.NOT_FOUND, "topic 'x' not found")


def test_a_subscription_retries_transient_failures_only() -> None:
    consumer = Consumer("127.0.0.1:1", "orders", max_backoff=0.3)
    try:
        unavailable = FailedCall(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        assert consumer._interrupted(unavailable, 0.1) == 0.2
        assert consumer._interrupted(None, 0.2) == 0.3  # ended cleanly: retried, capped
        with pytest.raises(MiniKafkaError) as caught:
            consumer._interrupted(FailedCall(grpc.StatusCode.PERMISSION_DENIED, "no"), 0.1)
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        consumer.close()


@pytest.mark.parametrize("start", [-1, True, "latest", 1.5])
def test_a_bad_start_is_refused_by_both_apis(start: object) -> None:
    for consumer_class in (Consumer, aio.Consumer):
        with pytest.raises(ValueError, match="start must be an offset"):
            consumer_class("127.0.0.1:1", "orders", start=start)  # type: ignore[arg-type]


def test_precondition_trailers_become_typed_errors() -> None:
    error = MiniKafkaError.from_rpc_error(
        FailedCall(
            grpc.StatusCode.FAILED_PRECONDITION,
            "sequence 9 is out of order; expected 4",
            (("minikafka-expected-sequence", "4"),),
        )
    )
    assert isinstance(error, SequenceOutOfOrderError)
    assert error.expected_sequence == 4
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION

    error = MiniKafkaError.from_rpc_error(
        FailedCall(
            grpc.StatusCode.FAILED_PRECONDITION,
            "expected next offset 3, the topic's is 8",
            (("minikafka-next-offset", "8"),),
        )
    )
    assert isinstance(error, NextOffsetMismatchError)
    assert error.next_offset == 8
    assert str(error) == "FAILED_PRECONDITION: expected next offset 3, the topic's is 8"

    # A topic that stopped taking writes: no trailer, a plain error.
    error = MiniKafkaError.from_rpc_error(
        FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "topic 'x' is read-only")
    )
    assert type(error) is MiniKafkaError
