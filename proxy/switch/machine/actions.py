"""Actions the switch machine returns: what the executor must do, named in the imperative.

Two kinds, and the executor's whole job is to tell them apart:

- an `Effect` is carried out at once, synchronously, with no reply (flip a flag, start a timer,
  write a log line);
- a `Request` may take time; the executor starts it and later feeds back exactly one of the events
  named in its `replies`.

The executor must carry out the actions of one `step` in list order, without awaiting between
them: where order matters (hold fetches before flipping routes; close connections before lifting
the fence) the list is already in the safe order, and running it without a yield point makes the
sequence atomic for every client connection on the same event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from proxy.switch.machine import events as ev
from proxy.switch.machine.phases import DisconnectScope, Outcome, Phase
from proxy.switch.machine.progress import OffsetWrite
from proxy.switch.machine.record import SwitchRecord


@dataclass(frozen=True, slots=True)
class Action:
    pass


@dataclass(frozen=True, slots=True)
class Effect(Action):
    pass


@dataclass(frozen=True, slots=True)
class Request(Action):
    replies: ClassVar[tuple[type[ev.Event], ...]] = ()


# -- fencing -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FenceTransactions(Effect):
    """Refuse new transactions; let open ones finish (`fencing.TransactionFence.fence`)."""


@dataclass(frozen=True, slots=True)
class FenceProduce(Request):
    """Refuse Produce per `fencing.ProduceFence`; reply once every connection applies it."""

    replies = (ev.ProduceFenced, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class UnfenceTransactions(Effect):
    pass


@dataclass(frozen=True, slots=True)
class UnfenceProduce(Effect):
    pass


# -- planned switch checks ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WaitForDrain(Request):
    """Wait until every request forwarded to the source before the fence is answered."""

    deadline: int
    replies = (ev.InFlightDrained, ev.DrainTimedOut, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class CheckTransactions(Request):
    """List open transactions on `cluster`, not before `not_before` (ms)."""

    cluster: str
    not_before: int
    replies = (ev.TransactionsChecked, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class CheckMirror(Request):
    """Read per-partition MM2 progress `source` -> `target`, not before `not_before`."""

    source: str
    target: str
    not_before: int
    replies = (ev.MirrorChecked, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class CheckGroupOffsets(Request):
    """Read every group's committed offsets on `source` and on `target`, not before `not_before`."""

    source: str
    target: str
    not_before: int
    replies = (ev.GroupOffsetsChecked, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class WriteGroupOffsets(Request):
    """Commit `offsets` for their groups on `target` (the groups are empty there before the flip)."""

    target: str
    offsets: tuple[OffsetWrite, ...]
    replies = (ev.GroupOffsetsWritten, ev.CheckFailed)


# -- the flip ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FlipActive(Request):
    """Persist (`target`, `epoch`), then route new connections to `target`. A failure before the
    routing changed replies CheckFailed(SWITCH); it must never fail after."""

    target: str
    epoch: int
    replies = (ev.ActiveFlipped, ev.CheckFailed)


@dataclass(frozen=True, slots=True)
class DisconnectClients(Request):
    """Close client connections in `scope` synchronously, then reply with the count."""

    scope: DisconnectScope
    replies = (ev.ClientsDisconnected,)


@dataclass(frozen=True, slots=True)
class HoldConsumerFetch(Effect):
    """Hold each client's Fetch until it has joined a group on the new active cluster (then report
    ClientRejoined), or until ReleaseConsumerFetch."""

    until_rejoin: bool = True


@dataclass(frozen=True, slots=True)
class ReleaseConsumerFetch(Effect):
    pass


# -- time, reporting, outcome ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ScheduleTimeout(Effect):
    """Feed TimeoutElapsed(phase) at `at`; replaces any timer still pending."""

    phase: Phase
    at: int


@dataclass(frozen=True, slots=True)
class RecordPhase(Effect):
    """Switch `switch_id` entered `phase` at `at` (logs, the phase gauge, phase histograms)."""

    switch_id: str
    phase: Phase
    at: int


@dataclass(frozen=True, slots=True)
class EmitAudit(Effect):
    """Append one audit entry (`AuditLog.record` with the switch as caller); `evidence` is JSON-safe."""

    action: str
    switch_id: str
    outcome: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class RejectRequest(Effect):
    """Refuse an admin request (admin API: HTTP 409 with `reason`); nothing else changed."""

    request: str
    switch_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Finish(Effect):
    """The switch is over: cancel its pending requests and timer; `record` is final."""

    switch_id: str
    outcome: Outcome
    reason: str
    record: SwitchRecord = field(hash=False, repr=False, compare=False)
