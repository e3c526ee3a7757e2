"""The asyncio API (grpc.aio): the same producer, consumer,
subscriptions and topic administration as the blocking one, with the same
errors and types.

>>> from minikafka_client.aio import Consumer, Producer
>>> async with Producer("127.0.0.1:9999", "orders") as producer:
...     offset = await producer.send(b"hello")
>>> async with Consumer("127.0.0.1:9999", "orders", start=offset) as consumer:
...     result = await consumer.poll(wait=5)
...     async for message in consumer.subscribe():
...         print(message.offset, message.payload)

Every object must be used (and closed) in the event loop that made it.
"""

from minikafka_client.aio._admin import Admin
from minikafka_client.aio._consumer import Consumer
from minikafka_client.aio._producer import Producer

__all__ = ["Admin", "Consumer", "Producer"]
