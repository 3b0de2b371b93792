"""The switch as a pure state machine: events in, actions out, nothing performed here.

Why a machine and not a coroutine: the switch has many ways to end (eleven abort reasons, a
dry run, an emergency), and each must leave the proxy safe: produce unfenced or deliberately
fenced, consumers released, the epoch right. A coroutine hides those paths in awaits and
exception handlers; a table makes each one a row a unit test can reach without a broker. The
asyncio executor only carries out `actions` and feeds back `events` (see those modules).

                          SwitchRequested
   resting:  -----------------------------------------------------------------------------.
   IDLE, DONE, ABORTED    |                          |                                    |
                          | planned                  | emergency                          | dry run
                          v                          v                                    v
                   +-------------+  ProduceFenced  +-------------+                 +-------------+
                   |    FENCE    |---------------->|   SWITCH    |                 |  CATCH_UP   |
                   | txns, then  |   (emergency)   |  flipping:  |                 | each check  |
                   |   produce   |                 | hold fetch, |                 | once, no    |
                   +-------------+                 | FlipActive  |                 | fence, no   |
                          | ProduceFenced          |      |      |                 | write       |
                          v (planned)              | ActiveFlipped                 +-------------+
                   +-------------+                 | (no return) |                        |
                   |    DRAIN    |                 |      v      |                        v
                   | in flight   |                 |  rejoining: |                 DONE (dry_run)
                   |   to A      |                 | disconnect, |
                   +-------------+                 | unfence,    |-- groups back or ---> DONE
                          | InFlightDrained        | wait rejoin |   window over
                          v                        +-------------+
                   +-------------+                        ^
                   |  CATCH_UP   |   all three gates hold |
                   | txns -> MM2 |------------------------'
                   | -> groups   |
                   | (-> write)  |
                   +-------------+

   FENCE, DRAIN, CATCH_UP, SWITCH before ActiveFlipped -- any failure, timeout, SourceUnreachable
   (planned) --> ABORTING: release fetches, unfence transactions, close refused producer
   connections, unfence produce --ClientsDisconnected--> ABORTED (reason in the record)

The rules, and why:

1. Order. Transactions are fenced before produce: a transaction that may still begin after produce
   is fenced would hold the source open forever. Open transactions may finish (their produce,
   AddPartitionsToTxn, EndTxn pass; see `fencing`), otherwise each would stay open until its
   transaction.timeout.ms and the catch-up could never pass.
2. DRAIN waits for requests forwarded to the source before the fence. A produce still in flight
   could succeed on A after we measured A's end offsets; its retry on B would then duplicate it.
3. CATCH_UP's gates run in order (`gates`), one check outstanding at a time, each re-asked every
   `poll_ms` until it holds or the phase deadline passes.
4. The flip is the point of no return. Before ActiveFlipped every failure aborts back to the source;
   after it nothing can: clients may already write to the target, and moving them back would lose
   those writes. So after the flip failures are only noted, and the switch ends in DONE.
5. The hold goes up before the flip and the connections close before the fence comes down; both
   orders are in one action list the executor runs without yielding, hence atomic for clients.
6. The switch epoch only rises: it is set from ActiveFlipped, which must carry `epoch + 1`. Dry
   runs and aborts leave it alone.
7. One switch at a time. A SwitchRequested, fence or unfence while a switch runs is not an error of
   the machine but a refusal to the operator: a `RejectRequest` action, state unchanged.
8. Strictness. An event the current step has no row for raises `SwitchProtocolError`: the executor
   sent something it should not have, and guessing would hide the bug. Two kinds of lateness are
   legitimate and ignored by rule instead: a TimeoutElapsed for a phase no longer current (or fired
   before the current deadline: timers race), and replies to checks arriving after the switch
   ended or began aborting (the executor cancels them on Finish, but a reply can be in flight).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from proxy.switch.machine import catch_up, lifecycle
from proxy.switch.machine import events as ev
from proxy.switch.machine.actions import Action
from proxy.switch.machine.phases import Limits, Phase
from proxy.switch.machine.record import SwitchRecord
from proxy.switch.machine.state import RESTING, Step, SwitchProtocolError, SwitchState, Transition

Handler = Callable[[SwitchState, Any], Transition]
TABLE: dict[tuple[Step, type[ev.Event]], Handler] = {}


def _rows(steps: Iterable[Step], *rows: tuple[type[ev.Event], Handler]) -> None:
    for step_ in steps:
        for event_type, handler in rows:
            TABLE[(step_, event_type)] = handler


RUNNING = [s for s in Step if s not in RESTING]
CHECKS = [Step.CHECKING_TRANSACTIONS, Step.CHECKING_MIRROR, Step.CHECKING_GROUPS, Step.WRITING_GROUPS]
LATE_REPLIES = (ev.ProduceFenced, ev.InFlightDrained, ev.DrainTimedOut, ev.TransactionsChecked,
                ev.MirrorChecked, ev.GroupOffsetsChecked, ev.GroupOffsetsWritten, ev.CheckFailed,
                ev.ClientRejoined)

_rows(RESTING,
      (ev.SwitchRequested, lifecycle.start), (ev.OperatorFenced, lifecycle.operator_fence),
      (ev.OperatorUnfenced, lifecycle.operator_unfence), (ev.ProduceFenced, lifecycle.ignore),
      (ev.ClientsDisconnected, lifecycle.ignore), (ev.SourceUnreachable, lifecycle.ignore))
_rows([Step.DONE, Step.ABORTED, Step.ABORTING], *((late, lifecycle.ignore) for late in LATE_REPLIES))
_rows(RUNNING,
      (ev.SwitchRequested, lifecycle.reject_busy), (ev.OperatorFenced, lifecycle.reject_busy),
      (ev.OperatorUnfenced, lifecycle.reject_busy))
_rows(Step, (ev.ProgressObserved, lifecycle.observe_progress))
_rows([Step.FENCING, Step.DRAINING],
      (ev.TimeoutElapsed, lifecycle.timed_out), (ev.CheckFailed, lifecycle.check_failed),
      (ev.SourceUnreachable, lifecycle.source_lost))
_rows([Step.FENCING], (ev.ProduceFenced, lifecycle.fenced))
_rows([Step.DRAINING], (ev.InFlightDrained, lifecycle.drained), (ev.DrainTimedOut, lifecycle.drain_timed_out))
_rows(CHECKS,
      (ev.TimeoutElapsed, catch_up.timed_out), (ev.CheckFailed, catch_up.check_failed),
      (ev.SourceUnreachable, catch_up.source_lost))
_rows([Step.CHECKING_TRANSACTIONS], (ev.TransactionsChecked, catch_up.on_transactions))
_rows([Step.CHECKING_MIRROR], (ev.MirrorChecked, catch_up.on_mirror))
_rows([Step.CHECKING_GROUPS], (ev.GroupOffsetsChecked, catch_up.on_groups))
_rows([Step.WRITING_GROUPS], (ev.GroupOffsetsWritten, catch_up.on_written))
_rows([Step.FLIPPING],
      (ev.ActiveFlipped, lifecycle.flipped), (ev.CheckFailed, lifecycle.check_failed),
      (ev.SourceUnreachable, lifecycle.ignore),
      (ev.ClientRejoined, lifecycle.ignore))  # a join completing before the flip is on the source
_rows([Step.REJOINING],
      (ev.ClientsDisconnected, lifecycle.disconnected), (ev.ClientRejoined, lifecycle.rejoined),
      (ev.TimeoutElapsed, lifecycle.rejoin_window_over), (ev.CheckFailed, lifecycle.note_after_flip),
      (ev.SourceUnreachable, lifecycle.ignore))
_rows([Step.ABORTING],
      (ev.ClientsDisconnected, lifecycle.aborted), (ev.TimeoutElapsed, lifecycle.aborted),
      (ev.SourceUnreachable, lifecycle.ignore))


def step(state: SwitchState, event: ev.Event) -> Transition:
    """The next state and the actions to carry out, in order. Pure: `state` is not changed."""
    if isinstance(event, ev.TimeoutElapsed) and _stale(state, event):
        return state, []
    handler = TABLE.get((state.step, type(event)))
    if handler is None:
        raise SwitchProtocolError(f"no transition for {type(event).__name__} in step {state.step} "
                                  f"(phase {state.phase})")
    return handler(state, event)


TIMER_SLACK_MS = 50
"""A timer for the current phase counts from this long before its deadline: an event loop may run a
timer a hair early, and `now` truncated to whole milliseconds can then read one below `at`."""


def _stale(state: SwitchState, event: ev.TimeoutElapsed) -> bool:
    """A timer for another phase, or one that fired well before the current phase's deadline."""
    run = state.run
    if not state.running or run is None or event.phase != state.phase:
        return True
    return run.phase_deadline is None or event.now < run.phase_deadline - TIMER_SLACK_MS


class SwitchMachine:
    """`step` with the state kept, plus every switch's record for the admin API.

    The executor owns one: it feeds every event to `handle` and carries out what comes back.
    """

    __slots__ = ("records", "state")

    def __init__(self, active: str, epoch: int = 0, limits: Limits | None = None) -> None:
        self.state = SwitchState(active=active, epoch=epoch, limits=limits or Limits())
        self.records: dict[str, SwitchRecord] = {}

    def handle(self, event: ev.Event) -> list[Action]:
        self.state, actions = step(self.state, event)
        if self.state.run is not None:
            self.records[self.state.run.switch_id] = self.state.run.record
        return actions

    @property
    def active(self) -> str:
        return self.state.active

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def phase(self) -> Phase:
        return self.state.phase

    @property
    def running(self) -> bool:
        return self.state.running

    def record(self, switch_id: str) -> SwitchRecord | None:
        return self.records.get(switch_id)
