"""What producers and consumers share: addresses, channels, stubs, errors."""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import grpc

from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb
from minikafka_client._generated.minikafka.v1 import minikafka_pb2_grpc as pb_grpc
from minikafka_client.errors import MiniKafkaError

#: The server address used when none is given and ``MINIKAFKA_HOST`` is unset.
DEFAULT_HOST = "127.0.0.1:9999"
#: The largest reply accepted. Poll replies stay under 4 MiB unless a single
#: message is larger, which a server configured for big messages allows.
MAX_RECEIVE_BYTES = 64 * 1024 * 1024
#: The options of every channel, blocking or asyncio.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]


def resolve_token(token: str | None) -> str | None:
    """The token to send: ``token``, or ``$MINIKAFKA_TOKEN`` when it is
    ``None`` (as the Rust tools' ``--token`` does); empty means none."""
    if token is None:
        token = os.environ.get("MINIKAFKA_TOKEN")
    return token or None


def token_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata that carries ``token`` to a server with tokens
    (``MINIKAFKA_AUTH_FILE``), as the Rust client sends it."""
    return (("authorization", f"Bearer {token}"),)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    """A call's details with the token added (grpc offers no constructor)."""


class _TokenInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the token to every call and stream of a blocking channel."""

    def __init__(self, token: str) -> None:
        self._metadata = token_metadata(token)

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), *self._metadata],
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)


def resolve_host(host: str | None) -> str:
    """Turns ``host:port``, ``:port`` (this machine) or ``http://host:port``
    into a gRPC target; ``None`` means ``$MINIKAFKA_HOST`` or ``DEFAULT_HOST``."""
    if host is None:
        host = os.environ.get("MINIKAFKA_HOST") or DEFAULT_HOST
    host = host.strip()
    for scheme in ("http://", "grpc://"):
        if host.startswith(scheme):
            host = host[len(scheme) :].rstrip("/")
    if host.startswith(":"):
        host = "127.0.0.1" + host
    if not host or host.endswith(":"):
        raise ValueError(f"not a server address (host:port): {host!r}")
    return host


@contextmanager
def converted_errors() -> Iterator[None]:
    """Re-raises ``grpc.RpcError`` as :class:`MiniKafkaError`."""
    try:
        yield
    except grpc.RpcError as error:
        raise MiniKafkaError.from_rpc_error(error) from error


class Connection:
    """One channel to a server and the v1 stub on it, sending ``token``
    (resolved by :func:`resolve_token`) on every call when there is one."""

    def __init__(self, host: str | None, token: str | None = None) -> None:
        self.target = resolve_host(host)
        self.channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        token = resolve_token(token)
        calls = self.channel
        if token is not None:
            calls = grpc.intercept_channel(self.channel, _TokenInterceptor(token))
        self.stub = pb_grpc.MiniKafkaStub(calls)

    def describe_topic(self, topic: str, timeout: float | None) -> pb.TopicInfo:
        """The topic's bounds; ``MiniKafkaError`` ``NOT_FOUND`` when it does not exist."""
        with converted_errors():
            return self.stub.DescribeTopic(pb.DescribeTopicRequest(topic=topic), timeout=timeout)

    def close(self) -> None:
        """Closes the channel, cancelling the calls in progress."""
        self.channel.close()


class Closeable:
    """Lets a client object close its connection at the end of a ``with``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
