"""A small typed client for minikafka, a gRPC message store.

>>> from minikafka_client import Producer, Consumer
>>> with Producer("127.0.0.1:9999", "orders") as producer:
...     offset = producer.send(b"hello")
>>> with Consumer("127.0.0.1:9999", "orders", start=offset) as consumer:
...     result = consumer.poll(wait=5)

Messages may carry a key and headers (:class:`Record`); a producer made
with ``idempotent=True`` retries lost answers without storing a batch
twice, and ``expected_next_offset`` makes a produce conditional.

Topics are created, configured, deleted and listed with :class:`Admin`,
which also lists, describes (with lag) and deletes consumer groups; a
:class:`Consumer` made with ``group=`` starts at the group's committed
position and commits with :meth:`Consumer.commit` or ``auto_commit``.
The same operations, awaitable, are in :mod:`minikafka_client.aio`.

The generated gRPC code (``minikafka_client._generated``, made when the
package is built) is there for direct use of the API, including the original
Go project's ``protocol`` service.
"""

from minikafka_client._connection import DEFAULT_HOST, resolve_host
from minikafka_client._groups import Commit, GroupInfo, GroupTopic
from minikafka_client._reading import Start
from minikafka_client._topics import (
    FOREVER,
    Effective,
    EffectiveSettings,
    Forever,
    Retention,
    SettingName,
    SettingSource,
    TopicInfo,
    TopicPage,
    TopicSettings,
)
from minikafka_client.admin import Admin
from minikafka_client.consumer import Consumer
from minikafka_client.errors import (
    DataLossError,
    MiniKafkaError,
    NextOffsetMismatchError,
    SequenceOutOfOrderError,
)
from minikafka_client.messages import Gap, Header, Message, PollResult, Record
from minikafka_client.producer import Producer

__all__ = [
    "DEFAULT_HOST",
    "FOREVER",
    "Admin",
    "Commit",
    "Consumer",
    "DataLossError",
    "Effective",
    "EffectiveSettings",
    "Forever",
    "Gap",
    "GroupInfo",
    "GroupTopic",
    "Header",
    "Message",
    "MiniKafkaError",
    "NextOffsetMismatchError",
    "PollResult",
    "Producer",
    "Record",
    "Retention",
    "SequenceOutOfOrderError",
    "SettingName",
    "SettingSource",
    "Start",
    "TopicInfo",
    "TopicPage",
    "TopicSettings",
    "resolve_host",
]
