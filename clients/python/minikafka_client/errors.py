"""The exceptions the client raises: one per failed call."""

from __future__ import annotations

import grpc
import grpc.aio

#: Trailer of a ``DATA_LOSS`` status: the first offset that cannot be read.
DAMAGED_FIRST_OFFSET = "minikafka-damaged-first-offset"
#: Trailer of a ``DATA_LOSS`` status: the first readable offset after the damage.
NEXT_GOOD_OFFSET = "minikafka-next-good-offset"
#: Trailer of a ``FAILED_PRECONDITION`` status: the sequence the server
#: expects next from the producer.
EXPECTED_SEQUENCE = "minikafka-expected-sequence"
#: Trailer of a ``FAILED_PRECONDITION`` status: the topic's actual next offset.
NEXT_OFFSET = "minikafka-next-offset"


class MiniKafkaError(Exception):
    """A call to the server failed.

    ``code`` is the gRPC status code (see docs/api.md: ``NOT_FOUND``,
    ``INVALID_ARGUMENT``, ``OUT_OF_RANGE``, ``RESOURCE_EXHAUSTED``,
    ``UNAVAILABLE``, ...) and ``details`` the server's message.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> MiniKafkaError:
        """Converts a failed gRPC call (a ``grpc.Call`` raised as an error,
        or asyncio's ``grpc.aio.AioRpcError``): the one place statuses
        become exceptions. ``DATA_LOSS`` carrying
        its offsets becomes :class:`DataLossError`; ``FAILED_PRECONDITION``
        with a sequence or next-offset trailer becomes
        :class:`SequenceOutOfOrderError` or :class:`NextOffsetMismatchError`."""
        if not isinstance(error, (grpc.Call, grpc.aio.AioRpcError)):
            return cls(grpc.StatusCode.UNKNOWN, str(error))
        code, details = error.code(), error.details() or ""
        trailers = _trailers(error.trailing_metadata() or ())
        if code == grpc.StatusCode.DATA_LOSS:
            first, next_good = trailers.get(DAMAGED_FIRST_OFFSET), trailers.get(NEXT_GOOD_OFFSET)
            if first is not None and next_good is not None:
                return DataLossError(details, first, next_good)
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            if (expected := trailers.get(EXPECTED_SEQUENCE)) is not None:
                return SequenceOutOfOrderError(details, expected)
            if (next_offset := trailers.get(NEXT_OFFSET)) is not None:
                return NextOffsetMismatchError(details, next_offset)
        return cls(code, details)


class DataLossError(MiniKafkaError):
    """A read reached records damaged on the server's disk (``DATA_LOSS``).

    The messages before them were returned; offsets ``first_offset`` up to
    ``next_good_offset - 1`` cannot be. To accept the loss and go on, set
    the consumer's ``position`` to ``next_good_offset``.
    """

    def __init__(self, details: str, first_offset: int, next_good_offset: int) -> None:
        super().__init__(grpc.StatusCode.DATA_LOSS, details)
        self.first_offset = first_offset
        self.next_good_offset = next_good_offset


class SequenceOutOfOrderError(MiniKafkaError):
    """An idempotent batch whose sequence the server did not expect from its
    producer (``FAILED_PRECONDITION``): it skipped ahead, or is older than
    the batches the server remembers. Nothing was stored.
    ``expected_sequence`` is the sequence the server expects next.
    """

    def __init__(self, details: str, expected_sequence: int) -> None:
        super().__init__(grpc.StatusCode.FAILED_PRECONDITION, details)
        self.expected_sequence = expected_sequence


class NextOffsetMismatchError(MiniKafkaError):
    """A conditional append (``expected_next_offset``) refused because the
    topic's next offset was another (``FAILED_PRECONDITION``). Nothing was
    stored; ``next_offset`` is the topic's actual next offset.
    """

    def __init__(self, details: str, next_offset: int) -> None:
        super().__init__(grpc.StatusCode.FAILED_PRECONDITION, details)
        self.next_offset = next_offset


def _trailers(trailers: object) -> dict[str, int]:
    """The trailers whose values are decimal numbers, by name."""
    numbers: dict[str, int] = {}
    for key, value in trailers:  # type: ignore[attr-defined]
        try:
            numbers[key] = int(value)
        except (TypeError, ValueError):
            continue
    return numbers
