"""CATCH_UP handlers: the three gates, polled until they hold or the phase's deadline passes.

One check is outstanding at a time, in gate order (transactions, mirror, group offsets), each in
its own step, so a reply can only be the one the step waits for. A gate that does not hold yet is
asked again `poll_ms` later (the request's `not_before`); a gate still failing in an event whose
`now` is at or past the deadline aborts with that gate's evidence as the reason, which says more
than the bare timeout would.

A dry run walks the same steps once each, never waits, writes nothing and ends in DONE with every
gate's verdict in the record: exactly the evidence a real switch would act on.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.switch.machine import events as ev
from proxy.switch.machine import gates
from proxy.switch.machine.actions import Action, CheckGroupOffsets, CheckMirror, CheckTransactions, WriteGroupOffsets
from proxy.switch.machine.gates import GroupVerdictKind
from proxy.switch.machine.phases import Outcome
from proxy.switch.machine.progress import OffsetWrite
from proxy.switch.machine.state import Run, Step, SwitchState, Transition
from proxy.switch.machine.transitions import abort, begin_flip, finish, goto


def on_transactions(state: SwitchState, e: ev.TransactionsChecked) -> Transition:
    run = state.current()
    passed, detail = gates.transactions_gate(e.open_transactions, e.open_for_ms)
    record = run.record.with_evidence(open_transactions=e.open_transactions,
                                      transaction_checks=run.record.evidence.transaction_checks + 1)
    run = replace(run, record=record)
    if passed or run.dry_run:
        return _to_mirror(state, _gate(run, "transactions", passed, detail), e.now)
    return _wait_or_abort(state, run, e.now, "transactions", detail, CheckTransactions(
        run.source, e.now + state.limits.poll_ms))


def on_mirror(state: SwitchState, e: ev.MirrorChecked) -> Transition:
    run = state.current()
    verdict = gates.mirror_gate(e.partitions)
    record = run.record.with_evidence(mirror=e.partitions, mirror_checks=run.record.evidence.mirror_checks + 1)
    run = replace(run, record=record, mirror=e.partitions)
    state = state.with_progress(e.partitions, e.now)
    if verdict.passed or run.dry_run:
        return _to_groups(state, _gate(run, "mirror", verdict.passed, verdict.detail), e.now)
    return _wait_or_abort(state, run, e.now, "mirror", verdict.detail, CheckMirror(
        run.source, run.target, e.now + state.limits.poll_ms))


def on_groups(state: SwitchState, e: ev.GroupOffsetsChecked) -> Transition:
    run = state.current()
    settle_until = (run.groups_started or e.now) + state.limits.group_settle_ms
    verdict = gates.group_gate(e.groups, run.mirror, settling=not run.dry_run and e.now < settle_until,
                               accept_replay=run.record.accept_replay)
    record = run.record.with_evidence(groups=verdict.checks, group_checks=run.record.evidence.group_checks + 1)
    expected = tuple((g.group, g.members) for g in e.groups if g.members > 0)
    run = replace(run, record=record, expected_rejoin=expected)
    kind, detail = verdict.kind, verdict.detail
    if run.dry_run:
        passed = kind is GroupVerdictKind.READY
        return _finish_dry_run(state, _gate(run, "group_offsets", passed, detail), e.now)
    if kind is GroupVerdictKind.READY:
        return begin_flip(state, _gate(run, "group_offsets", True, detail), e.now)
    if kind is GroupVerdictKind.UNTRANSLATABLE:
        return _abort_on_gate(state, run, e.now, "group_offsets", f"cannot translate: {detail}")
    if kind is GroupVerdictKind.INEXACT:
        return _abort_on_gate(state, run, e.now, "group_offsets", f"cannot prove an exact position: {detail}; "
                              "switch again with accept_replay to resume them there")
    if kind is GroupVerdictKind.MISSING:
        return _write(state, run, e.now, verdict.writes, detail)
    return _wait_or_abort(state, run, e.now, "group_offsets", detail, CheckGroupOffsets(
        run.source, run.target, e.now + state.limits.poll_ms))


def _write(state: SwitchState, run: Run, now: int, writes: tuple[OffsetWrite, ...], detail: str) -> Transition:
    limit = state.limits.group_write_attempts
    if run.write_attempts >= limit:
        return _abort_on_gate(state, run, now, "group_offsets",
                              f"still missing on {run.target} after {limit} write(s): {detail}")
    run = replace(_gate(run, "group_offsets", None, detail), write_attempts=run.write_attempts + 1)
    state, actions = goto(state, run, Step.WRITING_GROUPS, now, f"the group offset write: {detail}")
    return state, [*actions, WriteGroupOffsets(run.target, writes)]


def on_written(state: SwitchState, e: ev.GroupOffsetsWritten) -> Transition:
    run = state.current()
    written = (*run.record.evidence.offsets_written, *e.written)
    run = replace(run, record=run.record.with_evidence(offsets_written=written))
    state, actions = goto(state, run, Step.CHECKING_GROUPS, e.now, "the group offsets re-check")
    return state, [*actions, CheckGroupOffsets(run.source, run.target, e.now)]


def timed_out(state: SwitchState, e: ev.TimeoutElapsed) -> Transition:
    run = state.current()
    if run.dry_run:
        return _finish_dry_run(state, run, e.now, f"timeout waiting for {run.waiting_for}")
    busy = f" ({e.busy})" if e.busy else ""
    return abort(state, e.now, f"timeout in {e.phase} waiting for {run.waiting_for}{busy}")


def check_failed(state: SwitchState, e: ev.CheckFailed) -> Transition:
    """A check that could not run: abort, or in a dry run record the gate as failed and go on."""
    if e.phase != state.phase:
        return state, []
    run = state.current()
    if not run.dry_run:
        return abort(state, e.now, f"{e.phase}: {e.reason}")
    name = {Step.CHECKING_TRANSACTIONS: "transactions", Step.CHECKING_MIRROR: "mirror"}.get(
        state.step, "group_offsets")
    run = _gate(run, name, False, f"check failed: {e.reason}")
    if state.step is Step.CHECKING_TRANSACTIONS:
        return _to_mirror(state, run, e.now)
    if state.step is Step.CHECKING_MIRROR:
        return _to_groups(state, run, e.now)
    return _finish_dry_run(state, run, e.now)


def source_lost(state: SwitchState, e: ev.SourceUnreachable) -> Transition:
    run = state.current()
    if run.dry_run:
        return replace(state, run=replace(run, record=run.record.noted("the source became unreachable"))), []
    return abort(state, e.now, f"source {run.source} unreachable during a planned switch "
                               "(mode=emergency switches without it)")


# -- helpers ----------------------------------------------------------------------------------------


def _gate(run: Run, name: str, passed: bool | None, detail: str) -> Run:
    status = "waiting" if passed is None else "passed" if passed else "failed"
    return replace(run, record=run.record.with_gate(name, status, detail))


def _to_mirror(state: SwitchState, run: Run, now: int) -> Transition:
    state, actions = goto(state, run, Step.CHECKING_MIRROR, now, "the mirror check")
    return state, [*actions, CheckMirror(run.source, run.target, now)]


def _to_groups(state: SwitchState, run: Run, now: int) -> Transition:
    """The settle window starts now, not at CATCH_UP: a slow mirror gate must not use up the time
    active groups get to commit their last records (replays after the flip otherwise)."""
    run = replace(run, groups_started=run.groups_started if run.groups_started is not None else now)
    state, actions = goto(state, run, Step.CHECKING_GROUPS, now, "the group offsets check")
    return state, [*actions, CheckGroupOffsets(run.source, run.target, now)]


def _wait_or_abort(state: SwitchState, run: Run, now: int, gate: str, detail: str, again: Action
                   ) -> Transition:
    """Ask again later, unless the deadline has passed: then the gate's evidence is the reason."""
    if run.phase_deadline is not None and now >= run.phase_deadline:
        return _abort_on_gate(state, run, now, gate, f"not satisfied by the deadline: {detail}")
    run = replace(_gate(run, gate, None, detail), waiting_for=f"{gate}: {detail}")
    return replace(state, run=run), [again]


def _abort_on_gate(state: SwitchState, run: Run, now: int, gate: str, detail: str) -> Transition:
    state = replace(state, run=_gate(run, gate, False, detail))
    return abort(state, now, f"catch_up gate {gate} {detail}")


def _finish_dry_run(state: SwitchState, run: Run, now: int, why: str = "") -> Transition:
    verdicts = ", ".join(f"{g.gate} {g.status}" for g in run.record.evidence.gates)
    reason = f"dry run: {verdicts}" + (f" ({why})" if why else "")
    return finish(replace(state, run=run), now, Step.DONE, Outcome.SUCCEEDED, reason)
