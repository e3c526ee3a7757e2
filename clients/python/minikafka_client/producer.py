"""``Producer``: appends messages to one topic."""

from __future__ import annotations

from collections.abc import Sequence

from minikafka_client._connection import Closeable, Connection, converted_errors
from minikafka_client._generated.minikafka.v1 import minikafka_pb2 as pb


class Producer(Closeable):
    """Appends messages to ``topic`` (created on first use).

    ``host`` is ``host:port`` (``None``: ``$MINIKAFKA_HOST`` or
    ``127.0.0.1:9999``); ``timeout`` is each call's deadline in seconds;
    ``token`` is sent on every call to a server with tokens
    (``MINIKAFKA_AUTH_FILE``; ``None``: ``$MINIKAFKA_TOKEN``, if set).
    Failures raise :class:`MiniKafkaError`. A send that fails with
    ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED`` may still have been stored.
    """

    def __init__(
        self,
        host: str | None,
        topic: str,
        timeout: float | None = 10.0,
        *,
        token: str | None = None,
    ) -> None:
        self.topic = topic
        self.timeout = timeout
        self._connection = Connection(host, token)

    def send(self, payload: bytes) -> int:
        """Stores one message; returns its offset."""
        return self.send_batch([payload])[0]

    def send_batch(self, payloads: Sequence[bytes]) -> tuple[int, int]:
        """Stores the payloads atomically, with consecutive offsets; returns
        the first and last offset. An empty batch is ``INVALID_ARGUMENT``."""
        request = pb.ProduceRequest(topic=self.topic, payloads=payloads)
        with converted_errors():
            reply = self._connection.stub.Produce(request, timeout=self.timeout)
        return reply.first_offset, reply.last_offset

    def close(self) -> None:
        """Closes the connection."""
        self._connection.close()
