"""Events the switch machine consumes: things that happened, named in the past tense.

Three sources feed them:

- the admin API: `SwitchRequested`, `OperatorFenced`, `OperatorUnfenced`;
- the executor, replying to a request action (see `actions`): each request names its replies;
- the executor's background observers: `ProgressObserved` (mirror progress polled while idle, the
  emergency tail's only source), `SourceUnreachable`, `ClientRejoined`.

Every event carries `now`, integer milliseconds on the executor's clock. Fields are keyword-only so
a constructor call reads like the record it describes.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.switch.machine.phases import Phase
from proxy.switch.machine.progress import GroupOffsets, OffsetWrite, PartitionProgress


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    now: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchRequested(Event):
    """An operator asked to move clients from `source` (must be the active cluster) to `target`.

    mode is "planned" or "emergency"; anything else is rejected, not raised, since it comes from
    outside. timeout_s bounds the fenced time before the flip. accept_replay: the operator accepts
    that groups whose position cannot be proven exact re-read up to their reported bound.
    """

    switch_id: str
    source: str
    target: str
    mode: str
    dry_run: bool
    timeout_s: float
    accept_replay: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorFenced(Event):
    """An operator asked to refuse produce and new transactions with no switch (POST /v1/fence)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorUnfenced(Event):
    """An operator asked to lift an operator fence (POST /v1/unfence)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProduceFenced(Event):
    """Reply to FenceProduce: every client connection now applies the produce fence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlightDrained(Event):
    """Reply to WaitForDrain: no request forwarded to the source is unanswered any more.

    unknown_fate counts the writes among them whose connection closed before the source answered
    (since the fence): the source may have applied them, and their clients will send them again.
    """

    drained_count: int
    unknown_fate: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainTimedOut(Event):
    """Reply to WaitForDrain: its deadline passed with `outstanding` requests still unanswered."""

    outstanding: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionsChecked(Event):
    """Reply to CheckTransactions: transactional ids with an open transaction on the cluster, and
    how long each has been open (ms, -1 unknown), in the same order."""

    open_transactions: tuple[str, ...]
    open_for_ms: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorChecked(Event):
    """Reply to CheckMirror: MM2 progress for every mirrored partition of the source."""

    partitions: tuple[PartitionProgress, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressObserved(Event):
    """Mirror progress polled in the background (no request asked for it); kept for emergencies."""

    partitions: tuple[PartitionProgress, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupOffsetsChecked(Event):
    """Reply to CheckGroupOffsets: every consumer group with committed offsets on the source."""

    groups: tuple[GroupOffsets, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupOffsetsWritten(Event):
    """Reply to WriteGroupOffsets: the offsets the target accepted."""

    written: tuple[OffsetWrite, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveFlipped(Event):
    """Reply to FlipActive: `epoch` is persisted and new connections now route to the target."""

    epoch: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientsDisconnected(Event):
    """Reply to DisconnectClients: `count` client connections were closed."""

    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRejoined(Event):
    """A client whose fetches were held joined `group` on the new active cluster."""

    client_id: str
    group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutElapsed(Event):
    """A ScheduleTimeout for `phase` fired (stale ones are ignored by the machine).

    `busy` is what the executor's outstanding check was doing when the timer fired (its step and
    for how long), so a timeout names the request that hung instead of only the check.
    """

    phase: Phase
    busy: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckFailed(Event):
    """A request of `phase` could not be carried out (cluster unreachable, request error, ...)."""

    phase: Phase
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceUnreachable(Event):
    """The executor's monitor lost the source cluster."""
