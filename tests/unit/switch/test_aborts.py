"""Every way a planned switch can fail before the flip ends the same way: back on the source,
fence down (refused producers' connections closed first), fetches released, reason recorded."""

from __future__ import annotations

import pytest

from proxy.switch.machine import events as ev
from proxy.switch.machine.actions import (
    DisconnectClients,
    EmitAudit,
    Finish,
    RecordPhase,
    ReleaseConsumerFetch,
    ScheduleTimeout,
    UnfenceProduce,
    UnfenceTransactions,
    WriteGroupOffsets,
)
from proxy.switch.machine.phases import DisconnectScope, Outcome, Phase
from proxy.switch.machine.progress import OffsetWrite
from proxy.switch.machine.state import Step

from .playbook import Playbook
from .scenario import GROUPS_MISSING, MIRROR, driven, group, lagging, machine

LATE = 10_020  # the catch-up deadline: entered at 20, capped at 10 s
BEHIND = (lagging("orders", 0, end=100, behind=7, shift=10), MIRROR[1])

FAILURES = [
    (1, ev.TimeoutElapsed(now=1_000, phase=Phase.FENCE),
     "timeout in fence waiting for the executor to confirm the produce fence"),
    (1, ev.CheckFailed(now=5, phase=Phase.FENCE, reason="a connection did not apply the fence"),
     "fence: a connection did not apply the fence"),
    (1, ev.SourceUnreachable(now=5), "source A unreachable during a planned switch"),
    (2, ev.DrainTimedOut(now=2_010, outstanding=2),
     "drain: 2 request(s) forwarded to A before the fence were still unanswered at the deadline"),
    (2, ev.TimeoutElapsed(now=2_010, phase=Phase.DRAIN), "timeout in drain waiting for requests in flight to A"),
    (2, ev.InFlightDrained(now=15, drained_count=3, unknown_fate=1),
     "drain: 1 write(s) forwarded to A lost their connection before A answered"),
    (2, ev.CheckFailed(now=15, phase=Phase.DRAIN, reason="lost count"), "drain: lost count"),
    (2, ev.SourceUnreachable(now=15), "source A unreachable"),
    (3, ev.TransactionsChecked(now=LATE, open_transactions=("tx-9",)),
     "catch_up gate transactions not satisfied by the deadline: 1 open transaction(s): tx-9"),
    (3, ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP),
     "timeout in catch_up waiting for the open-transactions check"),
    (3, ev.CheckFailed(now=25, phase=Phase.CATCH_UP, reason="ListTransactions: CLUSTER_AUTHORIZATION_FAILED"),
     "catch_up: ListTransactions: CLUSTER_AUTHORIZATION_FAILED"),
    (3, ev.SourceUnreachable(now=25), "source A unreachable"),
    (4, ev.MirrorChecked(now=LATE, partitions=BEHIND),
     "catch_up gate mirror not satisfied by the deadline: 1 of 2 partition(s) not caught up: orders-0 (lag 7)"),
    (4, ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP), "timeout in catch_up waiting for the mirror check"),
    (4, ev.CheckFailed(now=45, phase=Phase.CATCH_UP, reason="mm2-offsets.A.internal missing"),
     "catch_up: mm2-offsets.A.internal missing"),
    (5, ev.GroupOffsetsChecked(now=55, groups=(group("billing", 0, ("payments", 0, 7, None)),)),
     "catch_up gate group_offsets cannot translate: 1 untranslatable: billing payments-0"),
    (5, ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP), "timeout in catch_up waiting for the group offsets"),
    (5, ev.CheckFailed(now=55, phase=Phase.CATCH_UP, reason="OffsetFetch on B timed out"),
     "catch_up: OffsetFetch on B timed out"),
    (6, ev.CheckFailed(now=65, phase=Phase.SWITCH, reason="state file read-only"), "switch: state file read-only"),
]


@pytest.mark.parametrize("n, failure, reason", FAILURES, ids=[f"{n}-{type(f).__name__}" for n, f, _ in FAILURES])
def test_failure_before_the_flip_aborts_back_to_the_source(n: int, failure: ev.Event, reason: str) -> None:
    m = driven(n)
    fetch_held = [ReleaseConsumerFetch()] if n == 6 else []  # the hold goes up with FlipActive
    playbook = Playbook(m) >> failure
    for action in [*fetch_held, RecordPhase("s1", Phase.ABORTING, failure.now),
                   ScheduleTimeout(Phase.ABORTING, failure.now + 1_000), UnfenceTransactions(),
                   DisconnectClients(DisconnectScope.REFUSED_PRODUCERS), UnfenceProduce()]:
        playbook = playbook << action
    assert (playbook
            >> ev.ClientsDisconnected(now=failure.now + 5, count=1)
            << RecordPhase("s1", Phase.ABORTED, failure.now + 5) << Finish << EmitAudit)
    record = m.record("s1")
    assert record is not None and record.outcome is Outcome.ABORTED and record.phase is Phase.ABORTED
    assert reason in (record.reason or "")
    assert (m.active, m.epoch, m.state.step) == ("A", 0, Step.ABORTED)


def test_group_offsets_missing_and_the_write_fails() -> None:
    m = driven(5)
    write = OffsetWrite(group="billing", topic="orders", partition=0, offset=90)
    assert (Playbook(m)
            >> ev.GroupOffsetsChecked(now=55, groups=GROUPS_MISSING) << WriteGroupOffsets("B", (write,))
            >> ev.CheckFailed(now=60, phase=Phase.CATCH_UP, reason="GROUP_SUBSCRIBED_TO_TOPIC")
            << RecordPhase << ScheduleTimeout << UnfenceTransactions << DisconnectClients << UnfenceProduce)
    assert m.record("s1").reason == "catch_up: GROUP_SUBSCRIBED_TO_TOPIC"  # type: ignore[union-attr]


def test_group_offsets_that_never_stick_abort_after_the_write_limit() -> None:
    m = driven(5)
    write = OffsetWrite(group="billing", topic="orders", partition=0, offset=90)
    for now in (55, 75):
        assert m.handle(ev.GroupOffsetsChecked(now=now, groups=GROUPS_MISSING)) == [WriteGroupOffsets("B", (write,))]
        m.handle(ev.GroupOffsetsWritten(now=now + 10, written=(write,)))
    actions = m.handle(ev.GroupOffsetsChecked(now=95, groups=GROUPS_MISSING))
    assert UnfenceProduce() in actions
    assert "still missing on B after 2 write(s)" in (m.record("s1").reason or "")  # type: ignore[union-attr]
    assert m.record("s1").evidence.offsets_written == (write, write)  # type: ignore[union-attr]


def test_mirror_that_never_catches_up_aborts_with_its_last_evidence() -> None:
    m = driven(4)
    for now in (50, 150, 250):
        m.handle(ev.MirrorChecked(now=now, partitions=BEHIND))
    m.handle(ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP))
    record = m.record("s1")
    assert record is not None and record.evidence.mirror_checks == 3
    assert record.reason == ("timeout in catch_up waiting for mirror: 1 of 2 partition(s) not caught up: "
                             "orders-0 (lag 7)")
    assert record.gate("mirror").status == "waiting"


def test_unconfirmed_unfence_still_ends_aborted_and_says_so() -> None:
    m = driven(2)
    m.handle(ev.DrainTimedOut(now=2_010, outstanding=1))
    assert Playbook(m) >> ev.TimeoutElapsed(now=3_010, phase=Phase.ABORTING) << RecordPhase << Finish << EmitAudit
    record = m.record("s1")
    assert record is not None and record.phase is Phase.ABORTED
    assert "never confirmed" in record.evidence.notes[-1]


def test_replies_arriving_while_aborting_are_ignored() -> None:
    m = driven(3)
    m.handle(ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP))
    before = m.state
    assert m.handle(ev.TransactionsChecked(now=LATE + 1, open_transactions=())) == []
    assert m.handle(ev.CheckFailed(now=LATE + 2, phase=Phase.CATCH_UP, reason="late")) == []
    assert m.state == before


def test_abort_keeps_an_operator_fence_that_was_up_before_the_switch() -> None:
    m = machine()
    m.handle(ev.OperatorFenced(now=0))
    driven(2, m)
    assert (Playbook(m) >> ev.DrainTimedOut(now=2_010, outstanding=1)
            << RecordPhase("s1", Phase.ABORTED, 2_010) << Finish << EmitAudit)
    assert m.state.operator_fenced and m.state.step is Step.ABORTED
    assert "operator fence" in m.record("s1").evidence.notes[-1]  # type: ignore[union-attr]
