"""Emergency switches, dry runs, operator fences, and the switch epoch across switch and failback."""

from __future__ import annotations

from proxy.switch.machine import events as ev
from proxy.switch.machine.actions import (
    Action,
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
    WriteGroupOffsets,
)
from proxy.switch.machine.phases import DisconnectScope, Outcome, Phase
from proxy.switch.machine.progress import TailEntry
from proxy.switch.machine.state import Step

from .playbook import Playbook
from .scenario import GROUPS_MISSING, GROUPS_OK, MIRROR, caught_up, driven, lagging, machine, planned_run, requested

OBSERVED = (caught_up("orders", 0, end=100, shift=10), lagging("orders", 1, end=50, behind=4))
CHANGES = (FenceTransactions, FenceProduce, UnfenceTransactions, UnfenceProduce, FlipActive,
           WriteGroupOffsets, DisconnectClients, HoldConsumerFetch)


def test_emergency_flips_right_after_the_fence_and_reports_the_tail() -> None:
    m = machine()
    m.handle(ev.ProgressObserved(now=900, partitions=OBSERVED))
    assert (Playbook(m)
            >> requested(mode="emergency", now=1_000)
            << RecordPhase("s1", Phase.FENCE, 1_000) << ScheduleTimeout << FenceTransactions() << FenceProduce()
            >> ev.SourceUnreachable(now=1_005)
            >> ev.ProduceFenced(now=1_010)
            << RecordPhase("s1", Phase.SWITCH, 1_010) << HoldConsumerFetch(True) << FlipActive("B", 1)
            >> ev.ActiveFlipped(now=1_020, epoch=1)
            << DisconnectClients(DisconnectScope.ALL) << UnfenceTransactions() << UnfenceProduce()
            << ScheduleTimeout(Phase.SWITCH, 6_020) << EmitAudit
            >> ev.ClientsDisconnected(now=1_030, count=3)
            >> ev.ClientRejoined(now=1_040, client_id="c1", group="billing")
            >> ev.TimeoutElapsed(now=6_020, phase=Phase.SWITCH)
            << ReleaseConsumerFetch() << RecordPhase << Finish << EmitAudit)
    record = m.record("s1")
    assert record is not None and record.outcome is Outcome.SUCCEEDED and (m.active, m.epoch) == ("B", 1)
    assert record.evidence.emergency_tail == (
        TailEntry(topic="orders", partition=0, tail=0, last_data_offset=99, copied_upto=99),
        TailEntry(topic="orders", partition=1, tail=4, last_data_offset=49, copied_upto=45))
    assert record.evidence.tail_observed_at == 900
    assert "up to 4 offset(s) over 2 partition(s)" in (record.reason or "")
    assert [t.phase for t in record.timings] == [Phase.FENCE, Phase.SWITCH, Phase.DONE]


def test_emergency_without_any_observed_progress_says_the_tail_is_unknown() -> None:
    m = machine()
    for event in (requested(mode="emergency"), ev.ProduceFenced(now=10), ev.ActiveFlipped(now=20, epoch=1),
                  ev.TimeoutElapsed(now=5_020, phase=Phase.SWITCH)):
        m.handle(event)
    record = m.record("s1")
    assert record is not None and record.evidence.emergency_tail == ()
    assert "unknown" in (record.reason or "") and "ever observed" in record.evidence.notes[0]


def test_emergency_dry_run_only_reports_the_tail() -> None:
    m = machine()
    m.handle(ev.ProgressObserved(now=5, partitions=OBSERVED))
    actions = m.handle(requested(mode="emergency", dry_run=True, now=10))
    assert [type(a) for a in actions] == [RecordPhase, Finish, EmitAudit]
    record = m.record("s1")
    assert record is not None and record.dry_run and record.phase is Phase.DONE
    assert record.reason == "dry run: records that may be lost: up to 4 offset(s) over 2 partition(s)"


def test_dry_run_checks_each_gate_once_and_changes_nothing() -> None:
    m = machine()
    behind = (lagging("orders", 0, end=100, behind=7, shift=10), MIRROR[1])
    assert (Playbook(m)
            >> requested(dry_run=True)
            << RecordPhase("s1", Phase.CATCH_UP, 0) << ScheduleTimeout(Phase.CATCH_UP, 10_000)
            << CheckTransactions("A", 0)
            >> ev.TransactionsChecked(now=10, open_transactions=("tx-1",)) << CheckMirror("A", "B", 10)
            >> ev.MirrorChecked(now=20, partitions=behind) << CheckGroupOffsets("A", "B", 20)
            >> ev.GroupOffsetsChecked(now=30, groups=GROUPS_MISSING)
            << RecordPhase("s1", Phase.DONE, 30) << Finish << EmitAudit)
    record = m.record("s1")
    assert record is not None and record.dry_run and record.outcome is Outcome.SUCCEEDED
    assert record.reason == "dry run: transactions failed, mirror failed, group_offsets failed"
    assert [(c.expected, c.status) for c in record.evidence.groups] == [(83, "missing"), (50, "ok")]
    assert (m.active, m.epoch, m.state.operator_fenced) == ("A", 0, False)


def test_dry_run_that_would_pass_says_so() -> None:
    m = machine()
    actions: list[Action] = []
    for event in (requested(dry_run=True), ev.TransactionsChecked(now=10, open_transactions=()),
                  ev.MirrorChecked(now=20, partitions=MIRROR), ev.GroupOffsetsChecked(now=30, groups=GROUPS_OK)):
        actions += m.handle(event)
    assert not [a for a in actions if isinstance(a, CHANGES)]
    assert m.record("s1").reason == "dry run: transactions passed, mirror passed, group_offsets passed"  # type: ignore[union-attr]


def test_dry_run_records_a_failed_check_and_goes_on() -> None:
    m = machine()
    m.handle(requested(dry_run=True))
    assert Playbook(m) >> ev.CheckFailed(now=5, phase=Phase.CATCH_UP, reason="no ACL") << CheckMirror("A", "B", 5)
    assert m.record("s1").gate("transactions").detail == "check failed: no ACL"  # type: ignore[union-attr]
    assert Playbook(m) >> ev.TimeoutElapsed(now=10_000, phase=Phase.CATCH_UP) << RecordPhase << Finish << EmitAudit
    assert "timeout waiting for the mirror check" in (m.record("s1").reason or "")  # type: ignore[union-attr]


def test_epoch_rises_with_each_flip_through_switch_and_failback() -> None:
    m = planned_run(machine(), "s1", "B", 0)
    assert (m.active, m.epoch) == ("B", 1)
    m.handle(requested(switch_id="dry", source="B", target="A", dry_run=True, now=500))
    m.handle(ev.CheckFailed(now=510, phase=Phase.CATCH_UP, reason="x"))
    m.handle(ev.TimeoutElapsed(now=20_000, phase=Phase.CATCH_UP))
    m.handle(requested(switch_id="aborted", source="B", target="A", now=21_000))
    m.handle(ev.TimeoutElapsed(now=22_000, phase=Phase.FENCE))
    m.handle(ev.ClientsDisconnected(now=22_001, count=0))
    assert (m.active, m.epoch, m.phase) == ("B", 1, Phase.ABORTED)
    planned_run(m, "back", "A", 30_000)
    assert (m.active, m.epoch) == ("A", 2)
    assert [m.records[i].epoch_after for i in ("s1", "dry", "aborted", "back")] == [1, None, None, 2]


def test_operator_fence_and_unfence_outside_a_switch() -> None:
    m = machine()
    assert (Playbook(m)
            >> ev.OperatorFenced(now=0) << FenceTransactions() << FenceProduce()
            >> ev.ProduceFenced(now=1)
            >> ev.OperatorFenced(now=2) << RejectRequest("fence", None, "already fenced")
            >> ev.OperatorUnfenced(now=3)
            << UnfenceTransactions() << DisconnectClients(DisconnectScope.REFUSED_PRODUCERS) << UnfenceProduce()
            >> ev.ClientsDisconnected(now=4, count=1)
            >> ev.OperatorUnfenced(now=5) << RejectRequest("unfence", None, "not fenced"))
    assert m.state.step is Step.IDLE and not m.state.operator_fenced


def test_fence_and_unfence_are_refused_while_a_switch_runs() -> None:
    m = driven(3)
    reason = "switch s1 is running (phase catch_up)"
    assert m.handle(ev.OperatorFenced(now=40)) == [RejectRequest("fence", None, reason)]
    assert m.handle(ev.OperatorUnfenced(now=41)) == [RejectRequest("unfence", None, reason)]


def test_a_completed_switch_lifts_an_operator_fence() -> None:
    m = machine()
    m.handle(ev.OperatorFenced(now=0))
    planned_run(m, "s1", "B", 10)
    assert not m.state.operator_fenced and m.active == "B"
    assert "lifted by the flip" in m.record("s1").evidence.notes[0]  # type: ignore[union-attr]
