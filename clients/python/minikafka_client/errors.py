"""The exceptions the client raises: one per failed call."""

from __future__ import annotations

import grpc
import grpc.aio

#: Trailer of a ``DATA_LOSS`` status: the first offset that cannot be read.
DAMAGED_FIRST_OFFSET = "minikafka-damaged-first-offset"
#: Trailer of a ``DATA_LOSS`` status: the first readable offset after the damage.
NEXT_GOOD_OFFSET = "minikafka-next-good-offset"


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
        its offsets becomes :class:`DataLossError`."""
        if not isinstance(error, (grpc.Call, grpc.aio.AioRpcError)):
            return cls(grpc.StatusCode.UNKNOWN, str(error))
        code, details = error.code(), error.details() or ""
        if code == grpc.StatusCode.DATA_LOSS:
            offsets = _damaged_offsets(error.trailing_metadata() or ())
            if offsets is not None:
                return DataLossError(details, *offsets)
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


def _damaged_offsets(trailers: object) -> tuple[int, int] | None:
    """The two offsets of a ``DATA_LOSS`` status's trailers, if both are there."""
    values = {key: value for key, value in trailers}  # type: ignore[attr-defined]
    try:
        return int(values[DAMAGED_FIRST_OFFSET]), int(values[NEXT_GOOD_OFFSET])
    except (KeyError, TypeError, ValueError):
        return None
