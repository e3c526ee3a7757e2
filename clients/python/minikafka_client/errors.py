"""The one exception type the client raises."""

from __future__ import annotations

import grpc


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
        """Converts a failed gRPC call (a ``grpc.Call`` raised as an error)."""
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        return cls(code, details or "")
