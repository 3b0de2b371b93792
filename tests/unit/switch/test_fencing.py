"""The per-request fence: sticky produce refusals, and which transaction calls pass while fenced."""

from __future__ import annotations

import pytest

from proxy.switch.machine.fencing import (
    ADD_OFFSETS_TO_TXN,
    ADD_PARTITIONS_TO_TXN,
    COORDINATOR_LOAD_IN_PROGRESS,
    END_TXN,
    FORWARD,
    INIT_PRODUCER_ID,
    NOT_LEADER_OR_FOLLOWER,
    PRODUCE,
    TXN_OFFSET_COMMIT,
    ProduceFence,
    ProduceVerdict,
    TransactionFence,
)

P0, P1 = ("orders", 0), ("orders", 1)


def test_unfenced_produce_is_forwarded() -> None:
    assert ProduceFence().decide([P0, P1], producer_id=7) == FORWARD


def test_fenced_produce_is_refused_whole_with_not_leader() -> None:
    fence = ProduceFence()
    fence.fence()
    assert fence.decide([P0, P1], producer_id=7) == ProduceVerdict(False, (P0, P1), NOT_LEADER_OR_FOLLOWER)
    assert fence.refusals == 2


def test_a_refused_partition_stays_refused_until_unfence_even_for_an_open_transaction() -> None:
    txns = TransactionFence()
    fence = ProduceFence(txns)
    fence.fence()
    assert not fence.decide([P0], producer_id=7, transactional_id="tx").forward
    txns.started("tx")  # e.g. an AddOffsetsToTxn answered late
    assert not fence.decide([P0], producer_id=7, transactional_id="tx").forward
    assert fence.decide([P1], producer_id=7, transactional_id="tx").forward
    assert fence.was_refused(7, P0) and not fence.was_refused(7, P1)


def test_a_request_with_one_refused_partition_is_refused_whole() -> None:
    txns = TransactionFence()
    txns.started("tx")
    fence = ProduceFence(txns)
    fence.fence()
    fence.decide([P0], producer_id=7)  # the same producer, not transactional: refused
    verdict = fence.decide([P0, P1], producer_id=7, transactional_id="tx")
    assert verdict == ProduceVerdict(False, (P0, P1), NOT_LEADER_OR_FOLLOWER)
    assert fence.was_refused(7, P1)


def test_an_open_transaction_finishes_while_other_producers_are_refused() -> None:
    txns = TransactionFence()
    txns.started("tx")
    fence = ProduceFence(txns)
    fence.fence()
    assert not fence.decide([P0], producer_id=-1).forward  # non-idempotent producer
    assert not fence.decide([P0], producer_id=8).forward  # idempotent producer
    assert fence.decide([P0, P1], producer_id=9, transactional_id="tx") == FORWARD
    txns.ended("tx")
    assert not fence.decide([P0], producer_id=9, transactional_id="tx").forward  # its next transaction (TV2)


def test_unfence_forwards_again_and_a_new_fence_starts_afresh() -> None:
    fence = ProduceFence()
    fence.fence()
    fence.decide([P0], producer_id=7)
    fence.unfence()
    assert fence.decide([P0], producer_id=7) == FORWARD and not fence.was_refused(7, P0)
    fence.fence()
    assert not fence.was_refused(7, P0) and fence.fenced


@pytest.mark.parametrize("api_key, transactional_id, is_open, refusal", [
    (INIT_PRODUCER_ID, "tx", False, COORDINATOR_LOAD_IN_PROGRESS),
    (INIT_PRODUCER_ID, "tx", True, None),      # it aborts the open transaction: helps the drain
    (INIT_PRODUCER_ID, None, False, None),     # idempotent producer: opens nothing
    (ADD_PARTITIONS_TO_TXN, "tx", False, COORDINATOR_LOAD_IN_PROGRESS),
    (ADD_PARTITIONS_TO_TXN, "tx", True, None),
    (ADD_OFFSETS_TO_TXN, "tx", False, COORDINATOR_LOAD_IN_PROGRESS),
    (ADD_OFFSETS_TO_TXN, "tx", True, None),
    (END_TXN, "tx", True, None),               # commit or abort: how transactions close
    (END_TXN, "tx", False, None),
    (TXN_OFFSET_COMMIT, "tx", False, COORDINATOR_LOAD_IN_PROGRESS),  # TV2 opens a transaction with it
    (TXN_OFFSET_COMMIT, "tx", True, None),     # TV1 sends it after AddOffsetsToTxn opened the transaction
    (PRODUCE, "tx", False, None),              # decided by ProduceFence
    (3, None, False, None),                    # Metadata
])
def test_transaction_fence_table(api_key: int, transactional_id: str | None, is_open: bool,
                                 refusal: int | None) -> None:
    txns = TransactionFence()
    if is_open and transactional_id:
        txns.started(transactional_id)
    assert txns.refusal(api_key, transactional_id) is None  # not fenced: everything passes
    txns.fence()
    assert txns.refusal(api_key, transactional_id) == refusal
    assert txns.refusals == (0 if refusal is None else 1)


def test_transaction_fence_lifts() -> None:
    txns = TransactionFence()
    txns.fence()
    txns.unfence()
    assert not txns.fenced and txns.refusal(ADD_PARTITIONS_TO_TXN, "tx") is None


class Clock:
    """A settable millisecond clock."""

    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_a_transaction_past_its_timeout_is_no_longer_open() -> None:
    """Its coordinator aborted it: a producer that died mid-transaction must not pass the next fence."""
    clock = Clock()
    txns = TransactionFence(clock)
    txns.started("tx", timeout_ms=60_000)
    clock.ms += 59_999
    assert txns.is_open("tx")
    clock.ms += 1
    assert not txns.is_open("tx") and txns.open_count == 0
    fence = ProduceFence(txns)
    fence.fence()
    assert not fence.decide([P0], producer_id=9, transactional_id="tx").forward


def test_the_timeout_runs_from_the_transactions_start_not_its_last_request() -> None:
    clock = Clock()
    txns = TransactionFence(clock)
    txns.started("tx", timeout_ms=10_000)
    clock.ms += 9_000
    txns.started("tx", timeout_ms=10_000)  # another AddPartitionsToTxn of the same transaction
    clock.ms += 1_000
    assert not txns.is_open("tx")
    txns.started("tx", timeout_ms=10_000)  # the next transaction starts its own clock
    assert txns.is_open("tx")


def test_raising_the_fence_forgets_every_expired_transaction() -> None:
    clock = Clock()
    txns = TransactionFence(clock)
    for i in range(100):
        txns.started(f"dead-{i}", timeout_ms=1_000)
    txns.started("alive", timeout_ms=60_000)
    clock.ms += 1_000
    txns.fence()
    assert txns.open_count == 1 and txns.is_open("alive")


def test_a_switchs_fence_holds_and_the_hold_is_as_sticky_as_a_refusal() -> None:
    txns = TransactionFence()
    fence = ProduceFence(txns)
    fence.fence(hold=True)
    assert fence.holding
    assert fence.decide([P0], producer_id=7) == ProduceVerdict(False, (P0,), NOT_LEADER_OR_FOLLOWER, hold=True)
    txns.started("tx")  # an open transaction's later batch of a held partition is held too
    assert fence.decide([P0], producer_id=7, transactional_id="tx").hold
    assert (fence.holds, fence.refusals) == (2, 0)


def test_unfence_forgets_the_hold_and_an_operator_fence_never_holds() -> None:
    fence = ProduceFence()
    fence.fence(hold=True)
    fence.decide([P0], producer_id=7)
    fence.unfence()
    assert not fence.holding and not fence.was_refused(7, P0)
    fence.fence()  # an operator fence: no end in sight, so it refuses
    assert not fence.holding
    assert fence.decide([P1], producer_id=7) == ProduceVerdict(False, (P1,), NOT_LEADER_OR_FOLLOWER)
