"""Which Kafka errors a harness wait treats as "not yet" rather than as a failure.

A topic MM2 is still creating on the target, a leader moving, a coordinator loading its group:
each answers a question with an error that only means "ask again soon". A wait that raises on
them fails a test for being early, which is how a suite goes red on a busy machine only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import confluent_kafka

T = TypeVar("T")

_NOT_YET = frozenset({
    confluent_kafka.KafkaError.NOT_LEADER_FOR_PARTITION,
    confluent_kafka.KafkaError.LEADER_NOT_AVAILABLE,
    confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART,
    confluent_kafka.KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    confluent_kafka.KafkaError.COORDINATOR_NOT_AVAILABLE,
    confluent_kafka.KafkaError.NOT_COORDINATOR,
    confluent_kafka.KafkaError.REQUEST_TIMED_OUT,
    confluent_kafka.KafkaError.NOT_ENOUGH_REPLICAS,
    confluent_kafka.KafkaError.FENCED_LEADER_EPOCH,
    confluent_kafka.KafkaError.UNKNOWN_LEADER_EPOCH,
    confluent_kafka.KafkaError.OFFSET_NOT_AVAILABLE,
    confluent_kafka.KafkaError._UNKNOWN_PARTITION,
    confluent_kafka.KafkaError._UNKNOWN_TOPIC,
    confluent_kafka.KafkaError._TRANSPORT,
    confluent_kafka.KafkaError._TIMED_OUT,
    confluent_kafka.KafkaError._ALL_BROKERS_DOWN,
    confluent_kafka.KafkaError._WAIT_COORD,
})


def is_not_yet(error: confluent_kafka.KafkaError | None) -> bool:
    """A retriable error, or one of the codes a cluster answers while it is still settling."""
    return error is not None and (error.code() in _NOT_YET or bool(error.retriable()))


def not_yet_exception(exc: BaseException) -> bool:
    return isinstance(exc, confluent_kafka.KafkaException) and bool(exc.args) \
        and isinstance(exc.args[0], confluent_kafka.KafkaError) and is_not_yet(exc.args[0])


def or_else(read: Callable[[], T], fallback: T) -> T:
    """`read()`, or `fallback` when it failed with a "not yet" error (anything else still raises)."""
    try:
        return read()
    except confluent_kafka.KafkaException as exc:
        if not_yet_exception(exc):
            return fallback
        raise
