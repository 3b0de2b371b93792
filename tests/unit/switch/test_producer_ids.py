"""Which transaction version 2 requests carry a producer id from the cluster the proxy switched away from.

Found on Kafka 4.4 (tests/integration/test_switch.py, TransactionalMessageCopier): after the flip
the Java producer brought A's producer id to B, which answered INVALID_PRODUCER_ID_MAPPING, fatal
to kafka-clients 4.4 on Produce, TxnOffsetCommit and EndTxn.
"""

from __future__ import annotations

from typing import Any

import pytest

from proxy.switch.machine.producer_ids import (
    DEFAULT_TRANSACTION_TIMEOUT_MS,
    END_TXN,
    PRODUCE,
    TXN_OFFSET_COMMIT,
    ProducerIdOrigins,
    StaleProducerVerdict,
)

DAY = 24 * 3600 * 1000

FORWARD, ABORTABLE, REINITIALISE = (StaleProducerVerdict.FORWARD, StaleProducerVerdict.ABORTABLE,
                                    StaleProducerVerdict.REINITIALISE)


def origins_from(cluster: str = "A") -> ProducerIdOrigins:
    origins = ProducerIdOrigins()
    origins.issued("tx", cluster)
    return origins


@pytest.mark.parametrize("api_key, version, committed, verdict", [
    (PRODUCE, 12, False, ABORTABLE),
    (PRODUCE, 13, False, ABORTABLE),
    (PRODUCE, 11, False, FORWARD),            # transaction version 1: not ours to change
    (TXN_OFFSET_COMMIT, 5, False, ABORTABLE),
    (TXN_OFFSET_COMMIT, 6, False, ABORTABLE),
    (TXN_OFFSET_COMMIT, 4, False, FORWARD),
    (END_TXN, 5, True, ABORTABLE),            # a commit: the application aborts instead
    (END_TXN, 5, False, REINITIALISE),        # the abort is where the client takes a new producer id
    (END_TXN, 4, False, FORWARD),
    (24, 5, False, FORWARD),                  # AddPartitionsToTxn: transaction version 1 only
])
def test_a_producer_id_from_the_other_cluster(api_key: int, version: int, committed: bool,
                                              verdict: StaleProducerVerdict) -> None:
    assert origins_from("A").verdict(api_key, version, "tx", "B", committed) is verdict


@pytest.mark.parametrize("api_key, version, committed", [
    (PRODUCE, 12, False), (TXN_OFFSET_COMMIT, 5, False), (END_TXN, 5, True), (END_TXN, 5, False)])
def test_a_producer_id_from_the_active_cluster_passes(api_key: int, version: int, committed: bool) -> None:
    assert origins_from("B").verdict(api_key, version, "tx", "B", committed) is FORWARD
    assert origins_from("A").verdict(api_key, version, "tx", "A", committed) is FORWARD


def test_an_id_the_proxy_never_saw_initialise_is_left_alone() -> None:
    origins = ProducerIdOrigins()
    assert not origins.is_stale("tx", "B") and not origins.is_stale(None, "B")
    assert origins.verdict(END_TXN, 5, "tx", "B") is FORWARD
    assert origins.verdict(PRODUCE, 12, None, "B") is FORWARD  # idempotent, not transactional


def test_re_initialising_on_the_target_makes_the_id_current_there_and_stale_after_a_failback() -> None:
    origins = origins_from("A")
    origins.issued("tx", "B")
    assert origins.verdict(PRODUCE, 12, "tx", "B") is FORWARD
    assert origins.verdict(PRODUCE, 12, "tx", "A") is ABORTABLE


def test_the_timeout_is_the_one_the_producer_asked_for() -> None:
    origins = ProducerIdOrigins()
    assert origins.timeout_ms("tx") == DEFAULT_TRANSACTION_TIMEOUT_MS
    origins.requested("tx", 10_000)
    assert origins.timeout_ms("tx") == 10_000 and origins.issued_by("tx") is None


class Clock:
    """A settable millisecond clock."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


def watched() -> tuple[Clock, ProducerIdOrigins, list[tuple[str, dict[str, Any] | None]]]:
    """Origins on a settable clock with a one-day expiration, and the changes a store would hear."""
    clock = Clock()
    origins = ProducerIdOrigins(clock, expiration_ms=DAY)
    changes: list[tuple[str, dict[str, Any] | None]] = []
    origins.on_change = lambda tid, value: changes.append((tid, value))
    return clock, origins, changes


def test_an_id_unused_for_the_brokers_expiration_is_forgotten() -> None:
    """Like transactional.id.expiration.ms on the broker: the table cannot grow without bound."""
    clock, origins, changes = watched()
    origins.issued("gone", "A")
    origins.issued("busy", "A")
    clock.ms += DAY - 1
    assert origins.is_stale("busy", "B")  # a request of it counts as use
    clock.ms += 1
    assert origins.prune() == 1
    assert origins.issued_by("gone") is None and origins.issued_by("busy") == "A"
    assert changes[-1] == ("gone", None)  # the store forgets it too


def test_the_store_hears_each_new_origin_and_not_a_reinit_on_the_same_cluster() -> None:
    clock, origins, changes = watched()
    origins.issued("tx", "A")
    origins.issued("tx", "A")
    clock.ms += 10
    origins.issued("tx", "B")
    assert changes == [("tx", {"issued_by": "A", "used_ms": clock.ms - 10}),
                       ("tx", {"issued_by": "B", "used_ms": clock.ms})]


def test_an_id_in_use_is_written_again_after_half_its_expiration() -> None:
    """So a restart long after its InitProducerId does not drop a producer that is still at work."""
    clock, origins, changes = watched()
    origins.issued("tx", "A")
    clock.ms += DAY // 2 - 1
    origins.is_stale("tx", "A")
    assert len(changes) == 1
    clock.ms += 1
    origins.is_stale("tx", "A")
    assert changes[-1] == ("tx", {"issued_by": "A", "used_ms": clock.ms})


def test_a_restart_restores_stored_origins_and_skips_expired_or_malformed_ones() -> None:
    clock = Clock()
    first = ProducerIdOrigins(clock, expiration_ms=DAY)
    stored: dict[str, Any] = {}
    first.on_change = lambda tid, value: stored.__setitem__(tid, value)
    first.issued("old-producer", "A")
    stored["ancient"] = {"issued_by": "A", "used_ms": clock.ms - DAY}
    stored["garbled"] = {"issued_by": "A"}
    clock.ms += 1000
    second = ProducerIdOrigins(clock, expiration_ms=DAY)
    assert second.restore(stored) == 1
    assert second.verdict(END_TXN, 5, "old-producer", "B") is REINITIALISE
    assert second.issued_by("ancient") is None and second.issued_by("garbled") is None
