"""The switch machine's immutable state: the proxy-wide part and the part of the running switch.

`SwitchState` outlives switches: which cluster is active, the switch epoch (it only rises, one per
completed flip, and the executor persists it with the flip), whether an operator fence is up, and
the newest mirror progress seen in the background (the only data an emergency switch can report
its tail from, since the source is gone by then). `Run` is the switch in progress, or the last one
once it has ended; its `record` is what the admin API shows.

`Step` refines the operator-visible `Phase`: CATCH_UP, for instance, is four steps, one per
outstanding check, so that the transition table can say exactly which reply each step waits for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from proxy.switch.machine.actions import Action
from proxy.switch.machine.phases import Limits, Mode, Phase
from proxy.switch.machine.progress import PartitionProgress
from proxy.switch.machine.record import SwitchRecord


class SwitchProtocolError(Exception):
    """The executor fed an event the current step has no transition for: a bug in the executor
    (or an event from a switch it should have cancelled), never a condition of the clusters."""


class Step(StrEnum):
    IDLE = "idle"
    FENCING = "fencing"
    DRAINING = "draining"
    CHECKING_TRANSACTIONS = "checking_transactions"
    CHECKING_MIRROR = "checking_mirror"
    CHECKING_GROUPS = "checking_groups"
    WRITING_GROUPS = "writing_groups"
    FLIPPING = "flipping"
    REJOINING = "rejoining"
    DONE = "done"
    ABORTING = "aborting"
    ABORTED = "aborted"

    @property
    def phase(self) -> Phase:
        return PHASE_OF[self]


PHASE_OF = {
    Step.IDLE: Phase.IDLE, Step.FENCING: Phase.FENCE, Step.DRAINING: Phase.DRAIN,
    Step.CHECKING_TRANSACTIONS: Phase.CATCH_UP, Step.CHECKING_MIRROR: Phase.CATCH_UP,
    Step.CHECKING_GROUPS: Phase.CATCH_UP, Step.WRITING_GROUPS: Phase.CATCH_UP,
    Step.FLIPPING: Phase.SWITCH, Step.REJOINING: Phase.SWITCH, Step.DONE: Phase.DONE,
    Step.ABORTING: Phase.ABORTING, Step.ABORTED: Phase.ABORTED,
}
RESTING = frozenset({Step.IDLE, Step.DONE, Step.ABORTED})
"""Steps with no switch running: a new switch, a fence or an unfence may start here."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One switch. Deadlines are absolute ms; `phase_deadline` None means no timer is armed."""

    switch_id: str
    source: str
    target: str
    mode: Mode
    dry_run: bool
    deadline: int
    record: SwitchRecord
    phase_deadline: int | None = None
    catch_up_started: int | None = None
    groups_started: int | None = None  # the first group offsets check: the settle window starts here
    waiting_for: str = ""
    mirror: tuple[PartitionProgress, ...] = ()
    write_attempts: int = 0
    expected_rejoin: tuple[tuple[str, int], ...] = ()
    rejoined: frozenset[tuple[str, str]] = frozenset()
    disconnected: bool = False
    fenced: bool = False
    fetch_held: bool = False
    kept_operator_fence: bool = False

    @property
    def emergency(self) -> bool:
        return self.mode is Mode.EMERGENCY

    def missing_rejoins(self) -> list[str]:
        """Active groups with fewer distinct clients rejoined than members they had on the source."""
        counts: dict[str, int] = {}
        for _client, group in self.rejoined:
            counts[group] = counts.get(group, 0) + 1
        return [f"{g} ({counts.get(g, 0)}/{m})" for g, m in self.expected_rejoin if counts.get(g, 0) < m]


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchState:
    active: str
    epoch: int = 0
    step: Step = Step.IDLE
    run: Run | None = None
    operator_fenced: bool = False
    known_progress: tuple[PartitionProgress, ...] = ()
    progress_at: int | None = None
    used_ids: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)

    @property
    def phase(self) -> Phase:
        return self.step.phase

    @property
    def running(self) -> bool:
        return self.step not in RESTING

    def current(self) -> Run:
        """The running (or last) switch; only called where the table guarantees one exists."""
        if self.run is None:
            raise SwitchProtocolError(f"no switch in step {self.step}")
        return self.run

    def with_progress(self, partitions: tuple[PartitionProgress, ...], now: int) -> SwitchState:
        """Merge newer per-partition progress into what is known (newer wins per partition)."""
        merged = {p.tp: p for p in self.known_progress}
        merged.update((p.tp, p) for p in partitions)
        ordered = tuple(merged[tp] for tp in sorted(merged))
        return replace(self, known_progress=ordered, progress_at=now)


Transition = tuple[SwitchState, list[Action]]
