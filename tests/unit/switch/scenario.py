"""Shared builders for the switch tests: one small world (topic `orders`, group `billing`) and the
event sequence of a planned switch that succeeds, so a test can stop it anywhere and go astray."""

from __future__ import annotations

from proxy.switch.machine import events as ev
from proxy.switch.machine.machine import SwitchMachine
from proxy.switch.machine.phases import Limits
from proxy.switch.machine.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress

LIMITS = Limits(fence_ms=1_000, drain_ms=2_000, catch_up_ms=10_000, rejoin_ms=5_000, abort_ms=1_000,
                poll_ms=100, group_settle_ms=3_000, group_write_attempts=2)
TIMEOUT_S = 30.0


def caught_up(topic: str, partition: int, end: int, shift: int = 0) -> PartitionProgress:
    """Source records 0..end-1, all copied; the target holds record o at o - shift."""
    return PartitionProgress(topic=topic, partition=partition, source_end_offset=end,
                             source_last_data_offset=end - 1, mirrored_upto=end - 1,
                             target_end_offset=end - shift, exact_sync=(end - 1, end - 1 - shift))


def lagging(topic: str, partition: int, end: int, behind: int, shift: int = 0) -> PartitionProgress:
    """MM2 is `behind` records short of the last one; no exact sync for the last record yet."""
    copied = end - 1 - behind
    return PartitionProgress(topic=topic, partition=partition, source_end_offset=end,
                             source_last_data_offset=end - 1, mirrored_upto=copied,
                             target_end_offset=copied + 1 - shift, exact_sync=None,
                             syncs=((copied, copied - shift),))


def group(name: str, members: int, *parts: tuple[str, int, int, int | None]) -> GroupOffsets:
    return GroupOffsets(group=name, members=members, partitions=tuple(
        GroupPartitionOffsets(topic=t, partition=p, committed_on_source=c, on_target=o) for t, p, c, o in parts))


def requested(switch_id: str = "s1", source: str = "A", target: str = "B", mode: str = "planned",
              dry_run: bool = False, now: int = 0, timeout_s: float = TIMEOUT_S,
              accept_replay: bool = False) -> ev.SwitchRequested:
    return ev.SwitchRequested(switch_id=switch_id, source=source, target=target, mode=mode,
                              dry_run=dry_run, timeout_s=timeout_s, now=now, accept_replay=accept_replay)


MIRROR = (caught_up("orders", 0, end=100, shift=10), caught_up("orders", 1, end=50))
GROUPS_OK = (group("billing", 2, ("orders", 0, 100, 90), ("orders", 1, 50, 50)),)
GROUPS_MISSING = (group("billing", 2, ("orders", 0, 100, None), ("orders", 1, 50, 50)),)

HAPPY: list[ev.Event] = [
    requested(now=0),
    ev.ProduceFenced(now=10),
    ev.InFlightDrained(now=20, drained_count=3),
    ev.TransactionsChecked(now=30, open_transactions=()),
    ev.MirrorChecked(now=40, partitions=MIRROR),
    ev.GroupOffsetsChecked(now=50, groups=GROUPS_OK),
    ev.ActiveFlipped(now=60, epoch=1),
    ev.ClientsDisconnected(now=70, count=4),
    ev.ClientRejoined(now=80, client_id="c1", group="billing"),
    ev.ClientRejoined(now=90, client_id="c2", group="billing"),
]
"""After HAPPY[:n] the machine is in: 0 idle, 1 fencing, 2 draining, 3 checking_transactions,
4 checking_mirror, 5 checking_groups, 6 flipping, 7..9 rejoining, 10 done."""


def machine(active: str = "A", epoch: int = 0) -> SwitchMachine:
    return SwitchMachine(active, epoch, LIMITS)


def driven(n: int, m: SwitchMachine | None = None, first: ev.SwitchRequested | None = None) -> SwitchMachine:
    """A machine fed the first `n` events of the happy planned switch (`first` replaces the request)."""
    m = m or machine()
    for event in HAPPY[:n]:
        m.handle(first if first is not None and event is HAPPY[0] else event)
    return m


def planned_run(m: SwitchMachine, switch_id: str, target: str, t0: int) -> SwitchMachine:
    """Feed a complete, successful planned switch from the active cluster to `target`."""
    events: list[ev.Event] = [
        requested(switch_id=switch_id, source=m.active, target=target, now=t0),
        ev.ProduceFenced(now=t0 + 10), ev.InFlightDrained(now=t0 + 20, drained_count=0),
        ev.TransactionsChecked(now=t0 + 30, open_transactions=()),
        ev.MirrorChecked(now=t0 + 40, partitions=MIRROR), ev.GroupOffsetsChecked(now=t0 + 50, groups=GROUPS_OK),
        ev.ActiveFlipped(now=t0 + 60, epoch=m.epoch + 1), ev.ClientsDisconnected(now=t0 + 70, count=2),
        ev.ClientRejoined(now=t0 + 80, client_id="c1", group="billing"),
        ev.ClientRejoined(now=t0 + 90, client_id="c2", group="billing"),
    ]
    for event in events:
        m.handle(event)
    return m
