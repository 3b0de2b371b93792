"""Random event sequences: whatever arrives, the machine never rests fenced or holding fetches
(unless an operator fenced), never flips a planned switch without every gate, and the epoch only
rises, by one per flip. Invalid events must raise SwitchProtocolError and change nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.switch.machine import actions as act
from proxy.switch.machine import events as ev
from proxy.switch.machine.offsets import is_caught_up, translate_for
from proxy.switch.machine.phases import Phase
from proxy.switch.machine.progress import GroupOffsets, PartitionProgress
from proxy.switch.machine.state import RESTING, Step, SwitchProtocolError

from .scenario import GROUPS_MISSING, GROUPS_OK, MIRROR, group, lagging, machine, requested

BEHIND = (lagging("orders", 0, end=100, behind=7, shift=10), MIRROR[1])
LAGGING_GROUP = (group("billing", 2, ("orders", 0, 97, None)),)
UNTRANSLATABLE = (group("billing", 0, ("payments", 0, 7, None)),)
OK_IF_BEHIND = (group("billing", 0, ("orders", 0, 100, 83), ("orders", 1, 50, 50)),)
"""Offsets that would pass the group gate against BEHIND: only the mirror gate stands in the way."""
EXPECTED = {
    Step.IDLE: ["request"], Step.DONE: ["request"], Step.ABORTED: ["request"], Step.FENCING: ["fenced"],
    Step.DRAINING: ["drained"], Step.CHECKING_TRANSACTIONS: ["txns"], Step.CHECKING_MIRROR: ["mirror"],
    Step.CHECKING_GROUPS: ["groups"], Step.WRITING_GROUPS: ["written"], Step.FLIPPING: ["flipped"],
    Step.REJOINING: ["disconnected", "rejoined"], Step.ABORTING: ["disconnected"],
}
"""The replies each step waits for: drawn more often than chance, so runs reach the flip."""
KINDS = ["request", "fence", "unfence", "fenced", "drained", "drain_timeout", "txns", "mirror", "groups",
         "written", "flipped", "disconnected", "rejoined", "timeout", "failed", "unreachable", "progress"]


@dataclass
class World:
    """What the executor would have done, tracked from the actions alone."""

    produce_fenced: bool = False
    txns_fenced: bool = False
    fetch_held: bool = False
    seen: dict[str, object] = field(default_factory=dict)

    def apply(self, actions: list[act.Action]) -> None:
        for a in actions:
            if isinstance(a, act.FenceProduce | act.UnfenceProduce):
                self.produce_fenced = isinstance(a, act.FenceProduce)
            if isinstance(a, act.FenceTransactions | act.UnfenceTransactions):
                self.txns_fenced = isinstance(a, act.FenceTransactions)
            if isinstance(a, act.HoldConsumerFetch | act.ReleaseConsumerFetch):
                self.fetch_held = isinstance(a, act.HoldConsumerFetch)


def event_of(kind: str, data: st.DataObject, now: int, active: str, epoch: int) -> ev.Event:
    draw = data.draw
    other = "B" if active == "A" else "A"
    match kind:
        case "request":
            return requested(switch_id=f"s{now}", source=draw(st.sampled_from([active, active, other])),
                             target=other, mode=draw(st.sampled_from(["planned", "emergency"])),
                             dry_run=draw(st.booleans()), now=now, timeout_s=draw(st.sampled_from([1.0, 30.0])))
        case "fence":
            return ev.OperatorFenced(now=now)
        case "unfence":
            return ev.OperatorUnfenced(now=now)
        case "fenced":
            return ev.ProduceFenced(now=now)
        case "drained":
            return ev.InFlightDrained(now=now, drained_count=1)
        case "drain_timeout":
            return ev.DrainTimedOut(now=now, outstanding=1)
        case "txns":
            return ev.TransactionsChecked(now=now, open_transactions=draw(st.sampled_from([(), ("tx",)])))
        case "mirror":
            return ev.MirrorChecked(now=now, partitions=draw(st.sampled_from([MIRROR, BEHIND])))
        case "groups":
            groups = draw(st.sampled_from([GROUPS_OK, GROUPS_MISSING, LAGGING_GROUP, UNTRANSLATABLE, OK_IF_BEHIND]))
            return ev.GroupOffsetsChecked(now=now, groups=groups)
        case "written":
            return ev.GroupOffsetsWritten(now=now, written=())
        case "flipped":
            return ev.ActiveFlipped(now=now, epoch=epoch + draw(st.sampled_from([1, 1, 1, 2])))
        case "disconnected":
            return ev.ClientsDisconnected(now=now, count=1)
        case "rejoined":
            return ev.ClientRejoined(now=now, client_id=draw(st.sampled_from(["c1", "c2"])), group="billing")
        case "timeout":
            return ev.TimeoutElapsed(now=now, phase=draw(st.sampled_from(list(Phase))))
        case "failed":
            return ev.CheckFailed(now=now, phase=draw(st.sampled_from(list(Phase))), reason="boom")
        case "unreachable":
            return ev.SourceUnreachable(now=now)
        case _:
            return ev.ProgressObserved(now=now, partitions=draw(st.sampled_from([MIRROR, BEHIND])))


def gates_held(mirror: tuple[PartitionProgress, ...], groups: tuple[GroupOffsets, ...]) -> bool:
    """An independent oracle for the group gate: every commit's translation is on the target."""
    by_tp = {p.tp: p for p in mirror}
    return all(gp.committed_on_source < 0 or (gp.tp in by_tp and gp.on_target is not None
                                              and gp.on_target == translate_for(by_tp[gp.tp], gp.committed_on_source))
               for g in groups for gp in g.partitions)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_random_event_sequences_keep_the_invariants(data: st.DataObject) -> None:
    m, world, now = machine(), World(), 0
    for _ in range(data.draw(st.integers(5, 60))):
        now += data.draw(st.sampled_from([0, 10, 10, 100, 100, 1_000, 6_000]))
        kind = data.draw(st.sampled_from(EXPECTED[m.state.step] * 6 + KINDS))
        event = event_of(kind, data, now, m.active, m.epoch)
        before, run_seen = m.state, dict(world.seen)
        try:
            actions = m.handle(event)
        except SwitchProtocolError:
            assert m.state == before
            continue
        remember(world, event, actions)
        for a in actions:
            if isinstance(a, act.FlipActive):
                check_flip_allowed(m, world, run_seen, event)
        world.apply(actions)
        check_resting(m, world, before.epoch, event)


def remember(world: World, event: ev.Event, actions: list[act.Action]) -> None:
    """The latest event of each kind since the last accepted SwitchRequested."""
    if isinstance(event, ev.SwitchRequested) and not any(isinstance(a, act.RejectRequest) for a in actions):
        world.seen = {}
    world.seen[type(event).__name__] = event


def check_flip_allowed(m: object, world: World, seen: dict[str, object], event: ev.Event) -> None:
    run = m.state.run  # type: ignore[attr-defined]
    assert run is not None and not run.dry_run
    if run.emergency:
        assert isinstance(event, ev.ProduceFenced)
        return
    txns, mirror = seen.get("TransactionsChecked"), seen.get("MirrorChecked")
    assert world.produce_fenced and world.txns_fenced and "InFlightDrained" in seen
    assert isinstance(txns, ev.TransactionsChecked) and txns.open_transactions == ()
    assert isinstance(mirror, ev.MirrorChecked) and all(is_caught_up(p) for p in mirror.partitions)
    assert isinstance(event, ev.GroupOffsetsChecked) and gates_held(mirror.partitions, event.groups)


def check_resting(m: object, world: World, epoch_before: int, event: ev.Event) -> None:
    state = m.state  # type: ignore[attr-defined]
    assert state.epoch == epoch_before + (1 if isinstance(event, ev.ActiveFlipped) else 0)
    if state.step in RESTING:
        assert not world.fetch_held
        assert world.produce_fenced == state.operator_fenced == world.txns_fenced
