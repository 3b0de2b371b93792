"""A planned switch, step by step: the actions in order, the gates, the record, and the refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from proxy.switch.machine import events as ev
from proxy.switch.machine.actions import (
    CheckGroupOffsets,
    CheckMirror,
    CheckTransactions,
    DisconnectClients,
    EmitAudit,
    FenceProduce,
    FenceTransactions,
    Finish,
    FlipActive,
    HoldConsumerFetch,
    RecordPhase,
    RejectRequest,
    ReleaseConsumerFetch,
    ScheduleTimeout,
    UnfenceProduce,
    UnfenceTransactions,
    WaitForDrain,
    WriteGroupOffsets,
)
from proxy.switch.machine.machine import SwitchMachine
from proxy.switch.machine.phases import DisconnectScope, Outcome, Phase
from proxy.switch.machine.progress import OffsetWrite
from proxy.switch.machine.state import Step, SwitchProtocolError

from .playbook import Playbook
from .scenario import GROUPS_MISSING, GROUPS_OK, HAPPY, MIRROR, driven, group, lagging, machine, requested


def test_happy_planned_switch_runs_every_phase_in_order() -> None:
    m = machine()
    assert (Playbook(m)
            >> HAPPY[0]
            << RecordPhase("s1", Phase.FENCE, 0) << ScheduleTimeout(Phase.FENCE, 1_000)
            << FenceTransactions() << FenceProduce()
            >> HAPPY[1]
            << RecordPhase("s1", Phase.DRAIN, 10) << ScheduleTimeout(Phase.DRAIN, 2_010) << WaitForDrain(2_010)
            >> HAPPY[2]
            << RecordPhase("s1", Phase.CATCH_UP, 20) << ScheduleTimeout(Phase.CATCH_UP, 10_020)
            << CheckTransactions("A", 20)
            >> HAPPY[3] << CheckMirror("A", "B", 30)
            >> HAPPY[4] << CheckGroupOffsets("A", "B", 40)
            >> HAPPY[5]
            << RecordPhase("s1", Phase.SWITCH, 50) << HoldConsumerFetch(True) << FlipActive("B", 1)
            >> HAPPY[6]
            << DisconnectClients(DisconnectScope.ALL) << UnfenceTransactions() << UnfenceProduce()
            << ScheduleTimeout(Phase.SWITCH, 5_060) << EmitAudit
            >> HAPPY[7]
            >> HAPPY[8]
            >> HAPPY[9]
            << ReleaseConsumerFetch() << RecordPhase("s1", Phase.DONE, 90) << Finish << EmitAudit)
    assert (m.active, m.epoch, m.phase) == ("B", 1, Phase.DONE)


def test_happy_switch_record_has_timings_and_evidence() -> None:
    record = driven(10).record("s1")
    assert record is not None
    assert (record.outcome, record.epoch_before, record.epoch_after) == (Outcome.SUCCEEDED, 0, 1)
    assert [(t.phase, t.start_ms, t.end_ms) for t in record.timings] == [
        (Phase.FENCE, 0, 10), (Phase.DRAIN, 10, 20), (Phase.CATCH_UP, 20, 50), (Phase.SWITCH, 50, 90),
        (Phase.DONE, 90, 90)]
    evidence = record.evidence
    assert (evidence.fenced_at, evidence.drained_count, evidence.clients_disconnected) == (10, 3, 4)
    assert evidence.mirror == MIRROR
    assert [(c.group, c.partition, c.expected, c.status) for c in evidence.groups] == [
        ("billing", 0, 90, "ok"), ("billing", 1, 50, "ok")]
    assert {g.gate: g.status for g in evidence.gates} == {
        "transactions": "passed", "mirror": "passed", "group_offsets": "passed"}


def test_open_transactions_are_polled_until_they_close() -> None:
    m = driven(3)
    assert (Playbook(m)
            >> ev.TransactionsChecked(now=40, open_transactions=("tx-2", "tx-1"))
            << CheckTransactions("A", 140)
            >> ev.TransactionsChecked(now=150, open_transactions=())
            << CheckMirror("A", "B", 150))
    assert m.record("s1").evidence.transaction_checks == 2  # type: ignore[union-attr]


def test_mirror_is_polled_until_every_partition_has_its_exact_sync() -> None:
    m = driven(4)
    behind = (lagging("orders", 0, end=100, behind=7, shift=10), MIRROR[1])
    assert (Playbook(m)
            >> ev.MirrorChecked(now=50, partitions=behind) << CheckMirror("A", "B", 150)
            >> ev.MirrorChecked(now=160, partitions=MIRROR) << CheckGroupOffsets("A", "B", 160))
    gate = m.record("s1").gate("mirror")  # type: ignore[union-attr]
    assert gate.status == "passed"


def test_missing_group_offsets_are_written_then_checked_again() -> None:
    m = driven(5)
    write = OffsetWrite(group="billing", topic="orders", partition=0, offset=90)
    assert (Playbook(m)
            >> ev.GroupOffsetsChecked(now=60, groups=GROUPS_MISSING) << WriteGroupOffsets("B", (write,))
            >> ev.GroupOffsetsWritten(now=70, written=(write,)) << CheckGroupOffsets("A", "B", 70)
            >> ev.GroupOffsetsChecked(now=80, groups=GROUPS_OK) << RecordPhase << HoldConsumerFetch << FlipActive)
    assert m.record("s1").evidence.offsets_written == (write,)  # type: ignore[union-attr]


def _behind_after_settling(m: SwitchMachine, proven: int | None = None) -> ev.GroupOffsetsChecked:
    """An active group at 95 on `orders-0`, still there after the 3 s settle window (the group check began at 40)."""
    m.handle(ev.MirrorChecked(now=40, partitions=(replace(MIRROR[0], syncs=((90, 80),)), MIRROR[1])))
    behind = ev.GroupOffsetsChecked(now=60, groups=(group("billing", 2, ("orders", 0, 95, None)),))
    assert Playbook(m) >> behind << CheckGroupOffsets("A", "B", 160)
    assert m.record("s1").gate("group_offsets").status == "waiting"  # type: ignore[union-attr]
    part = replace(behind.groups[0].partitions[0], proven=proven)
    return ev.GroupOffsetsChecked(now=3_040, groups=(replace(behind.groups[0], partitions=(part,)),))


def test_a_slow_mirror_gate_does_not_use_up_the_settle_window() -> None:
    """The mirror held only 5 s into CATCH_UP (began at 20): a group behind the end still gets its 3 s."""
    m = driven(4)
    m.handle(ev.MirrorChecked(now=5_020, partitions=MIRROR))
    behind = ev.GroupOffsetsChecked(now=5_030, groups=(group("billing", 2, ("orders", 0, 95, None)),))
    assert Playbook(m) >> behind << CheckGroupOffsets("A", "B", 5_130)
    assert m.record("s1").gate("group_offsets").status == "waiting"  # type: ignore[union-attr]


def test_an_active_group_behind_the_end_gets_time_to_commit_then_resumes_where_records_prove() -> None:
    m = driven(4)
    late = _behind_after_settling(m, proven=85)
    write = OffsetWrite(group="billing", topic="orders", partition=0, offset=85)
    assert Playbook(m) >> late << WriteGroupOffsets("B", (write,))


def test_a_group_whose_position_cannot_be_proven_aborts_the_switch_with_its_replay_bound() -> None:
    m = driven(4)
    late = _behind_after_settling(m)
    m.handle(late)
    assert m.phase is Phase.ABORTING
    reason = m.record("s1").reason or ""  # type: ignore[union-attr]
    assert "cannot prove an exact position" in reason and "may re-read up to 4" in reason
    assert "accept_replay" in reason


def test_with_the_replay_accepted_such_a_group_resumes_where_nothing_is_skipped() -> None:
    m = driven(4, first=requested(now=0, accept_replay=True))
    late = _behind_after_settling(m)
    # 95 lies after the sync 90 -> 80, so 81: re-reads 91..94 at most, never loses one
    write = OffsetWrite(group="billing", topic="orders", partition=0, offset=81)
    assert Playbook(m) >> late << WriteGroupOffsets("B", (write,))
    assert m.record("s1").to_dict()["accept_replay"] is True  # type: ignore[union-attr]


def test_switch_finishes_when_no_active_group_must_rejoin() -> None:
    m = driven(5)
    idle_group = (replace(GROUPS_OK[0], members=0),)
    m.handle(ev.GroupOffsetsChecked(now=50, groups=idle_group))
    m.handle(ev.ActiveFlipped(now=60, epoch=1))
    assert Playbook(m) >> ev.ClientsDisconnected(now=70, count=0) << ReleaseConsumerFetch << RecordPhase \
        << Finish << EmitAudit
    assert m.phase is Phase.DONE


def test_rejoin_window_over_finishes_the_switch_and_names_missing_groups() -> None:
    m = driven(9)
    assert Playbook(m) >> ev.TimeoutElapsed(now=5_060, phase=Phase.SWITCH) << ReleaseConsumerFetch \
        << RecordPhase << Finish << EmitAudit
    record = m.record("s1")
    assert record is not None and record.outcome is Outcome.SUCCEEDED
    assert "billing (1/2)" in (record.reason or "")


@pytest.mark.parametrize("n", range(1, 10))
def test_a_second_switch_while_one_runs_is_rejected_and_changes_nothing(n: int) -> None:
    m = driven(n)
    before = m.state
    actions = m.handle(requested(switch_id="s2", now=100))
    assert actions == [RejectRequest("switch", "s2", f"switch s1 is running (phase {before.phase})")]
    assert m.state == before


@pytest.mark.parametrize("event, reason", [
    (requested(source="B"), "source 'B' is not the active cluster 'A'"),
    (requested(target="A"), "target 'A' is already the active cluster"),
    (requested(mode="hasty"), "unknown mode 'hasty' (planned or emergency)"),
    (requested(timeout_s=0), "timeout_s must be > 0, got 0"),
])
def test_invalid_requests_are_rejected(event: ev.SwitchRequested, reason: str) -> None:
    m = machine()
    assert m.handle(event) == [RejectRequest("switch", "s1", reason)]
    assert m.state.step is Step.IDLE and m.record("s1") is None


def test_a_switch_id_cannot_be_reused() -> None:
    m = driven(10)
    actions = m.handle(requested(switch_id="s1", source="B", target="A", now=200))
    assert actions == [RejectRequest("switch", "s1", "switch id 's1' was already used")]


@pytest.mark.parametrize("n, event", [
    (0, ev.ActiveFlipped(now=1, epoch=1)),
    (0, ev.TransactionsChecked(now=1, open_transactions=())),
    (1, ev.InFlightDrained(now=1, drained_count=0)),
    (2, ev.MirrorChecked(now=1, partitions=MIRROR)),
    (3, ev.GroupOffsetsChecked(now=1, groups=GROUPS_OK)),
    (5, ev.ProduceFenced(now=1)),
    (6, ev.ClientsDisconnected(now=1, count=0)),
    (7, ev.ActiveFlipped(now=1, epoch=2)),
])
def test_an_event_without_a_transition_raises(n: int, event: ev.Event) -> None:
    m = driven(n)
    with pytest.raises(SwitchProtocolError, match=type(event).__name__):
        m.handle(event)


def test_a_flip_reporting_the_wrong_epoch_raises() -> None:
    with pytest.raises(SwitchProtocolError, match="epoch 5, expected 1"):
        driven(6).handle(ev.ActiveFlipped(now=60, epoch=5))


@pytest.mark.parametrize("n, phase, now", [
    (2, Phase.FENCE, 5_000),      # a timer of a phase already left
    (2, Phase.DRAIN, 1_000),      # fired before the current deadline (2_010): a race
    (6, Phase.CATCH_UP, 20_000),  # FLIPPING arms no timer; catch-up's may still fire
    (10, Phase.SWITCH, 9_000),    # after the end
])
def test_stale_timeouts_are_ignored(n: int, phase: Phase, now: int) -> None:
    m = driven(n)
    before = m.state
    assert m.handle(ev.TimeoutElapsed(now=now, phase=phase)) == []
    assert m.state == before


def test_a_group_join_completing_before_the_flip_does_not_count_as_a_rejoin() -> None:
    m = driven(6)
    assert m.handle(ev.ClientRejoined(now=55, client_id="c1", group="billing")) == []
    m.handle(HAPPY[6])
    m.handle(HAPPY[7])
    m.handle(HAPPY[8])
    assert m.phase is Phase.SWITCH  # c2 has not rejoined on B yet


def test_a_timer_firing_a_hair_early_still_counts() -> None:
    m = driven(2)  # drain deadline 2_010
    actions = m.handle(ev.TimeoutElapsed(now=2_009, phase=Phase.DRAIN))
    assert UnfenceProduce() in actions and m.phase is Phase.ABORTING


def test_machine_keeps_every_switch_record() -> None:
    m = driven(10)
    assert isinstance(m, SwitchMachine) and set(m.records) == {"s1"}
    assert m.record("nope") is None
