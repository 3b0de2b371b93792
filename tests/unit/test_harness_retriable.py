"""Harness waits: an error that means "ask again soon" is not a failure; anything else still is."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from harness.retriable import is_not_yet, or_else


@pytest.mark.parametrize("code", [KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                                  KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                  KafkaError._TRANSPORT])
def test_a_settling_cluster_answers_not_yet(code: int) -> None:
    def read() -> int:
        raise KafkaException(KafkaError(code))

    assert is_not_yet(KafkaError(code))
    assert or_else(read, 0) == 0


def test_a_real_failure_still_raises() -> None:
    def read() -> int:
        raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException):
        or_else(read, 0)


def test_an_answer_passes_through() -> None:
    assert or_else(lambda: 7, 0) == 7
    assert not is_not_yet(None)
