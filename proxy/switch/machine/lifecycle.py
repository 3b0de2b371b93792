"""Transition handlers outside CATCH_UP: requests, fencing, drain, the flip, rejoin, abort.

Each handler takes the state and the event the table routed to it and returns the next state and
the actions; none looks at a clock or performs anything.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.switch.machine import events as ev
from proxy.switch.machine import offsets
from proxy.switch.machine.actions import (
    CheckTransactions,
    DisconnectClients,
    EmitAudit,
    FenceProduce,
    FenceTransactions,
    RejectRequest,
    ReleaseConsumerFetch,
    ScheduleTimeout,
    UnfenceProduce,
    UnfenceTransactions,
    WaitForDrain,
)
from proxy.switch.machine.phases import DisconnectScope, Mode, Outcome, Phase
from proxy.switch.machine.record import SwitchRecord
from proxy.switch.machine.state import Run, Step, SwitchProtocolError, SwitchState, Transition
from proxy.switch.machine.transitions import abort, begin_flip, finish, goto

# -- resting: requests and operator fences ----------------------------------------------------------


def start(state: SwitchState, e: ev.SwitchRequested) -> Transition:
    refusal = _refusal(state, e)
    if refusal:
        return state, [RejectRequest("switch", e.switch_id, refusal)]
    mode = Mode(e.mode)
    record = SwitchRecord(switch_id=e.switch_id, source=e.source, target=e.target, mode=mode,
                          dry_run=e.dry_run, timeout_s=e.timeout_s, requested_at=e.now,
                          epoch_before=state.epoch, accept_replay=e.accept_replay)
    run = Run(switch_id=e.switch_id, source=e.source, target=e.target, mode=mode, dry_run=e.dry_run,
              deadline=e.now + round(e.timeout_s * 1000), record=record)
    state = replace(state, run=run, used_ids=state.used_ids | {e.switch_id})
    if e.dry_run and run.emergency:
        return _emergency_dry_run(state, e.now)
    if e.dry_run:
        return start_catch_up(state, run, e.now)
    run = replace(run, fenced=True, kept_operator_fence=state.operator_fenced)
    state, actions = goto(state, run, Step.FENCING, e.now, "the executor to confirm the produce fence")
    return state, [*actions, FenceTransactions(), FenceProduce()]


def _refusal(state: SwitchState, e: ev.SwitchRequested) -> str | None:
    if state.running:
        return f"switch {state.current().switch_id} is running (phase {state.phase})"
    if e.switch_id in state.used_ids:
        return f"switch id {e.switch_id!r} was already used"
    if e.mode not in tuple(Mode):
        return f"unknown mode {e.mode!r} (planned or emergency)"
    if e.source != state.active:
        return f"source {e.source!r} is not the active cluster {state.active!r}"
    if e.target == e.source:
        return f"target {e.target!r} is already the active cluster"
    if not e.timeout_s > 0:
        return f"timeout_s must be > 0, got {e.timeout_s!r}"
    return None


def start_catch_up(state: SwitchState, run: Run, now: int) -> Transition:
    run = replace(run, catch_up_started=now)
    state, actions = goto(state, run, Step.CHECKING_TRANSACTIONS, now, "the open-transactions check")
    return state, [*actions, CheckTransactions(run.source, now)]


def _emergency_dry_run(state: SwitchState, now: int) -> Transition:
    state = _with_tail(state)
    run = state.current()
    return finish(state, now, Step.DONE, Outcome.SUCCEEDED, "dry run: " + _tail_summary(run.record))


def reject_busy(state: SwitchState, e: ev.Event) -> Transition:
    request = {ev.SwitchRequested: "switch", ev.OperatorFenced: "fence"}.get(type(e), "unfence")
    switch_id = e.switch_id if isinstance(e, ev.SwitchRequested) else None
    reason = f"switch {state.current().switch_id} is running (phase {state.phase})"
    return state, [RejectRequest(request, switch_id, reason)]


def operator_fence(state: SwitchState, e: ev.OperatorFenced) -> Transition:
    if state.operator_fenced:
        return state, [RejectRequest("fence", None, "already fenced")]
    return replace(state, operator_fenced=True), [FenceTransactions(), FenceProduce()]


def operator_unfence(state: SwitchState, e: ev.OperatorUnfenced) -> Transition:
    if not state.operator_fenced:
        return state, [RejectRequest("unfence", None, "not fenced")]
    return replace(state, operator_fenced=False), [
        UnfenceTransactions(), DisconnectClients(DisconnectScope.REFUSED_PRODUCERS), UnfenceProduce()]


def observe_progress(state: SwitchState, e: ev.ProgressObserved) -> Transition:
    return state.with_progress(e.partitions, e.now), []


def ignore(state: SwitchState, e: ev.Event) -> Transition:
    return state, []


# -- FENCE and DRAIN --------------------------------------------------------------------------------


def fenced(state: SwitchState, e: ev.ProduceFenced) -> Transition:
    run = state.current()
    run = replace(run, record=run.record.with_evidence(fenced_at=e.now))
    if run.emergency:
        state = _with_tail(replace(state, run=run))
        return begin_flip(state, state.current(), e.now)
    state, actions = goto(state, run, Step.DRAINING, e.now, f"requests in flight to {run.source}")
    deadline = state.current().phase_deadline
    return state, [*actions, WaitForDrain(e.now if deadline is None else deadline)]


def drained(state: SwitchState, e: ev.InFlightDrained) -> Transition:
    """Writes of unknown fate abort: resent after the flip, one the source did apply would be
    written twice on the target; resent on the source after the abort, idempotence drops it."""
    run = state.current()
    run = replace(run, record=run.record.with_evidence(drained_count=e.drained_count,
                                                       drain_unknown_fate=e.unknown_fate))
    if e.unknown_fate > 0:
        return abort(replace(state, run=run), e.now,
                     f"drain: {e.unknown_fate} write(s) forwarded to {run.source} lost their connection before "
                     f"{run.source} answered; their clients resend them on {run.source} now, switch again")
    return start_catch_up(state, run, e.now)


def drain_timed_out(state: SwitchState, e: ev.DrainTimedOut) -> Transition:
    run = state.current()
    state = replace(state, run=replace(run, record=run.record.with_evidence(drain_outstanding=e.outstanding)))
    return abort(state, e.now, f"drain: {e.outstanding} request(s) forwarded to {run.source} before the "
                               "fence were still unanswered at the deadline")


def timed_out(state: SwitchState, e: ev.TimeoutElapsed) -> Transition:
    return abort(state, e.now, f"timeout in {e.phase} waiting for {state.current().waiting_for}")


def check_failed(state: SwitchState, e: ev.CheckFailed) -> Transition:
    if e.phase != state.phase:
        return state, []
    return abort(state, e.now, f"{e.phase}: {e.reason}")


def source_lost(state: SwitchState, e: ev.SourceUnreachable) -> Transition:
    if state.current().emergency:
        return state, []
    return abort(state, e.now, f"source {state.current().source} unreachable during a planned switch "
                               "(mode=emergency switches without it)")


# -- SWITCH -----------------------------------------------------------------------------------------


def flipped(state: SwitchState, e: ev.ActiveFlipped) -> Transition:
    """Past the point of no return: clients move now, and the fence comes down behind them."""
    run = state.current()
    if e.epoch != state.epoch + 1:
        raise SwitchProtocolError(f"ActiveFlipped epoch {e.epoch}, expected {state.epoch + 1}")
    record = replace(run.record, epoch_after=e.epoch)
    if state.operator_fenced:
        record = record.noted("the operator fence was lifted by the flip")
    deadline = e.now + state.limits.rejoin_ms
    run = replace(run, record=record, fenced=False, phase_deadline=deadline,
                  waiting_for="active groups to rejoin on the target")
    state = replace(state, active=run.target, epoch=e.epoch, operator_fenced=False, step=Step.REJOINING,
                    run=run)
    audit = EmitAudit("switch.flipped", run.switch_id, "flipped",
                      {"target": run.target, "epoch": e.epoch, "at_ms": e.now})
    return state, [DisconnectClients(DisconnectScope.ALL), UnfenceTransactions(), UnfenceProduce(),
                   ScheduleTimeout(Phase.SWITCH, deadline), audit]


def disconnected(state: SwitchState, e: ev.ClientsDisconnected) -> Transition:
    run = state.current()
    run = replace(run, disconnected=True, record=run.record.with_evidence(clients_disconnected=e.count))
    return _maybe_done(replace(state, run=run), e.now)


def rejoined(state: SwitchState, e: ev.ClientRejoined) -> Transition:
    run = state.current()
    seen = (*run.record.evidence.rejoined, (e.client_id, e.group, e.now))
    run = replace(run, rejoined=run.rejoined | {(e.client_id, e.group)},
                  record=run.record.with_evidence(rejoined=seen))
    return _maybe_done(replace(state, run=run), e.now)


def _maybe_done(state: SwitchState, now: int) -> Transition:
    """A planned switch is done once clients were disconnected and every active group is back.

    An emergency switch never knows its groups (no check ran), so it holds fetches for the whole
    rejoin window.
    """
    run = state.current()
    if not run.disconnected or run.emergency or run.missing_rejoins():
        return state, []
    reason = f"switched to {run.target} at epoch {state.epoch}; {len(run.expected_rejoin)} active group(s) rejoined"
    return finish(state, now, Step.DONE, Outcome.SUCCEEDED, reason, [ReleaseConsumerFetch()])


def rejoin_window_over(state: SwitchState, e: ev.TimeoutElapsed) -> Transition:
    run = state.current()
    reason = f"switched to {run.target} at epoch {state.epoch}; rejoin window over"
    missing = run.missing_rejoins()
    if missing:
        reason += f", still waiting for: {', '.join(missing)}"
    if run.emergency:
        reason += "; " + _tail_summary(run.record)
    return finish(state, e.now, Step.DONE, Outcome.SUCCEEDED, reason, [ReleaseConsumerFetch()])


def note_after_flip(state: SwitchState, e: ev.CheckFailed) -> Transition:
    run = state.current()
    return replace(state, run=replace(run, record=run.record.noted(f"after the flip: {e.reason}"))), []


# -- ABORTING ---------------------------------------------------------------------------------------


def aborted(state: SwitchState, e: ev.ClientsDisconnected | ev.TimeoutElapsed) -> Transition:
    run = state.current()
    if isinstance(e, ev.ClientsDisconnected):
        record = run.record.with_evidence(clients_disconnected=e.count)
    else:
        record = run.record.noted("the close of refused producer connections was never confirmed")
    state = replace(state, run=replace(run, record=record))
    return finish(state, e.now, Step.ABORTED, Outcome.ABORTED, run.record.reason or "aborted")


# -- emergency evidence -----------------------------------------------------------------------------


def _with_tail(state: SwitchState) -> SwitchState:
    run = state.current()
    record = run.record.with_evidence(emergency_tail=offsets.tail_report(state.known_progress),
                                      tail_observed_at=state.progress_at)
    if not state.known_progress:
        record = record.noted("no mirror progress was ever observed: the tail is unknown")
    return replace(state, run=replace(run, record=record))


def _tail_summary(record: SwitchRecord) -> str:
    tails = record.evidence.emergency_tail
    known = [t.tail for t in tails if t.tail is not None]
    if not tails:
        return "records that may be lost: unknown (no mirror progress observed)"
    text = f"records that may be lost: up to {sum(known)} offset(s) over {len(known)} partition(s)"
    unknown = len(tails) - len(known)
    return text + (f", {unknown} partition(s) unknown" if unknown else "")

