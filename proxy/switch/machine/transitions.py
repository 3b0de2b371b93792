"""Moves every step shares: entering a step, aborting back to the source, finishing, flipping.

Kept apart from the handlers so that each rule lives in one place: the phase deadlines, the
order of the unfence on abort, the order of hold-then-flip, and the actions every ending emits.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.switch.machine.actions import (
    Action,
    DisconnectClients,
    EmitAudit,
    Finish,
    FlipActive,
    HoldConsumerFetch,
    RecordPhase,
    ReleaseConsumerFetch,
    ScheduleTimeout,
    UnfenceProduce,
    UnfenceTransactions,
)
from proxy.switch.machine.phases import DisconnectScope, Outcome, Phase
from proxy.switch.machine.state import Run, Step, SwitchState, Transition


def deadline_for(state: SwitchState, run: Run, phase: Phase, now: int) -> int | None:
    """When `phase`, entered at `now`, times out; None for phases without a timer.

    Pre-flip phases have their own cap and never outlive the request's overall deadline. FLIPPING
    has none: the flip is local to the proxy and must answer. The rejoin window is armed by the
    flip itself, since it starts at the flip, not at SWITCH's entry.
    """
    limits = state.limits
    caps = {Phase.FENCE: limits.fence_ms, Phase.DRAIN: limits.drain_ms, Phase.CATCH_UP: limits.catch_up_ms}
    if phase in caps:
        return min(now + caps[phase], run.deadline)
    if phase is Phase.ABORTING:
        return now + limits.abort_ms
    return None


def goto(state: SwitchState, run: Run, step: Step, now: int, waiting_for: str = "") -> Transition:
    """Enter `step`; on a phase change, time the phase, report it and arm its timer."""
    actions: list[Action] = []
    run = replace(run, waiting_for=waiting_for)
    if run.record.phase != step.phase:
        deadline = deadline_for(state, run, step.phase, now)
        run = replace(run, record=run.record.entering(step.phase, now), phase_deadline=deadline)
        actions.append(RecordPhase(run.switch_id, step.phase, now))
        if deadline is not None:
            actions.append(ScheduleTimeout(step.phase, deadline))
    return replace(state, step=step, run=run), actions


def finish(state: SwitchState, now: int, step: Step, outcome: Outcome, reason: str,
           actions: list[Action] | None = None) -> Transition:
    """End the switch in DONE or ABORTED; the final record goes to the executor and the audit log."""
    run = state.current()
    record = run.record.finished(step.phase, outcome, reason, now)
    run = replace(run, record=record, phase_deadline=None, waiting_for="")
    out = [*(actions or []), RecordPhase(run.switch_id, step.phase, now),
           Finish(run.switch_id, outcome, reason, record),
           EmitAudit("switch", run.switch_id, str(outcome), record.to_dict())]
    return replace(state, step=step, run=run), out


def abort(state: SwitchState, now: int, reason: str) -> Transition:
    """Give up before the flip: stay on the source and lift this switch's fence.

    The unfence is three actions in one atomic list: transactions first (nothing may start a new
    transaction between the produce unfence and its own), then the connections that saw a fenced
    refusal are closed, then produce is unfenced. Closing first matters: such a connection may have
    more batches of the same partition in its pipeline, and once the fence is down one of those
    could reach the source ahead of the refused batch's retry, a sequence gap (OUT_OF_ORDER_SEQUENCE,
    fatal for librdkafka). A closed connection's client resends everything in order.
    An operator fence that was up before the switch stays up.
    """
    run = state.current()
    actions: list[Action] = [ReleaseConsumerFetch()] if run.fetch_held else []
    run = replace(run, record=replace(run.record, reason=reason), fetch_held=False)
    if run.fenced and not run.kept_operator_fence:
        state, entered = goto(state, replace(run, fenced=False), Step.ABORTING, now,
                              "the executor to close refused producer connections")
        return state, [*actions, *entered, UnfenceTransactions(),
                       DisconnectClients(DisconnectScope.REFUSED_PRODUCERS), UnfenceProduce()]
    if run.kept_operator_fence:
        run = replace(run, record=run.record.noted("the operator fence set before the switch stays up"))
    return finish(replace(state, run=run), now, Step.ABORTED, Outcome.ABORTED, reason, actions)


def begin_flip(state: SwitchState, run: Run, now: int) -> Transition:
    """Every gate passed (or an emergency skipped them): hold consumer fetches, then flip.

    The hold comes first: the moment routing changes, a new connection may reach the target, and a
    consumer that has not rejoined there would fetch at the source's offsets.
    """
    state, actions = goto(state, replace(run, fetch_held=True), Step.FLIPPING, now,
                          "the executor to persist the epoch and flip routing")
    return state, [*actions, HoldConsumerFetch(until_rejoin=True), FlipActive(run.target, state.epoch + 1)]
