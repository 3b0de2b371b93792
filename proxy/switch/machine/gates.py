"""The three CATCH_UP gates as pure verdicts over the evidence a check returned.

A planned switch may flip only when all three hold, in this order (each needs the one before):

1. transactions: the source has no open transaction. Until then the last data offset of a
   partition can still move (a commit writes markers, an open transaction's records may be
   aborted), so mirror progress measured earlier would prove nothing.
2. mirror: every partition is caught up (`offsets.is_caught_up`): MM2 copied the last data record.
   No offset sync is needed for that: a quiet partition may never get one.
3. group offsets: for every group and partition with a commit on the source, the target holds the
   translated offset. Translation is exact when the executor proved it by comparing records on both
   clusters (`matching`), or MM2 has an exact sync; otherwise MM2's syncs bound the records the
   group may re-read, and such an "inexact" group stops the switch unless the operator accepted
   that replay for this switch (`accept_replay`, audited).

Gate 3 has a settling rule. Consumers keep running on the source while producers are fenced, so
an active group is usually a few records (one auto-commit interval) behind the end; translating its
offset now would make it re-read those records after the flip. While the settle window lasts, an
active group (members > 0) below the source's end offset counts as "lagging" and the check is
repeated; after it, its offset is translated as it stands (replays possible, never loss). The window
starts at the first group check, after the mirror gate held, however long that took.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from proxy.switch.machine import offsets
from proxy.switch.machine.progress import (
    GroupCheck,
    GroupOffsets,
    GroupPartitionOffsets,
    OffsetWrite,
    PartitionProgress,
    TopicPartition,
)

LISTED = 5
"""How many offending items a gate's detail names before it says "and N more"."""


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def transactions_gate(open_transactions: tuple[str, ...], open_for_ms: tuple[int, ...] = ()) -> tuple[bool, str]:
    """Passes with no open transaction; otherwise names them, oldest first, with their age.

    A transaction open for long usually belongs to a producer that is gone: the coordinator aborts
    it after its transaction.timeout.ms, or the operator aborts it now (runbook, audited).
    """
    if not open_transactions:
        return True, "no open transactions on the source"
    ages = dict(zip(open_transactions, open_for_ms, strict=False))
    ordered = sorted(open_transactions, key=lambda t: (-ages.get(t, -1), t))
    named = [t if ages.get(t, -1) < 0 else f"{t} (open {ages[t] / 1000:.0f} s)" for t in ordered]
    return False, f"{len(open_transactions)} open transaction(s): {listing(named)}"


@dataclass(frozen=True, slots=True)
class MirrorVerdict:
    passed: bool
    detail: str
    lagging: tuple[TopicPartition, ...]


def mirror_gate(partitions: tuple[PartitionProgress, ...]) -> MirrorVerdict:
    behind = [p for p in partitions if not offsets.is_caught_up(p)]
    if not behind:
        return MirrorVerdict(True, f"all {len(partitions)} partition(s) caught up", ())
    described = [_describe_behind(p) for p in behind]
    detail = f"{len(behind)} of {len(partitions)} partition(s) not caught up: {listing(described)}"
    return MirrorVerdict(False, detail, tuple(p.tp for p in behind))


def _describe_behind(p: PartitionProgress) -> str:
    lag = offsets.mirror_lag(p)
    if not p.on_target:
        why = "not on the target yet"
    elif lag is None:
        why = "nothing copied yet"
    else:
        why = f"lag {lag}" if lag else "target empty"
    return f"{p.topic}-{p.partition} ({why})"


class GroupVerdictKind(StrEnum):
    READY = "ready"
    SETTLING = "settling"
    INEXACT = "inexact"
    MISSING = "missing"
    UNTRANSLATABLE = "untranslatable"


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    kind: GroupVerdictKind
    checks: tuple[GroupCheck, ...]
    writes: tuple[OffsetWrite, ...]
    detail: str


_WORST_FIRST = ((GroupVerdictKind.UNTRANSLATABLE, "untranslatable"), (GroupVerdictKind.SETTLING, "lagging"),
                (GroupVerdictKind.INEXACT, "inexact"), (GroupVerdictKind.MISSING, "missing"))


def group_gate(groups: tuple[GroupOffsets, ...], progress: tuple[PartitionProgress, ...],
               *, settling: bool, accept_replay: bool = False) -> GroupVerdict:
    """Judge every group partition; the worst status decides the verdict."""
    by_tp = {p.tp: p for p in progress}
    checks = tuple(check_partition(g, gp, by_tp.get(gp.tp), settling=settling, accept_replay=accept_replay)
                   for g in groups for gp in g.partitions)
    for kind, status in _WORST_FIRST:
        hit = [c for c in checks if c.status == status]
        if hit:
            return GroupVerdict(kind, checks, _writes(hit), f"{len(hit)} {status}: {listing(_names(hit))}")
    return GroupVerdict(GroupVerdictKind.READY, checks, (),
                        f"{len(checks)} group partition(s) hold their translated offsets")


def check_partition(group: GroupOffsets, offsets_of: GroupPartitionOffsets,
                    progress: PartitionProgress | None, *, settling: bool, accept_replay: bool = False
                    ) -> GroupCheck:
    committed = offsets_of.committed_on_source
    expected, bound = translation(offsets_of, progress)
    if committed < 0:
        status = "no_commit"
    elif expected is None:
        # older than every sync we keep: only an offset MM2's own group sync already wrote can serve
        status = "ok" if offsets_of.on_target is not None else "untranslatable"
    elif settling and group.members > 0 and progress is not None and committed < progress.source_end_offset:
        status = "lagging"
    elif bound > 0 and not accept_replay:
        status = "inexact"
    elif offsets_of.on_target == expected:
        status = "ok"
    else:
        status = "missing"
    return GroupCheck(group=group.group, topic=offsets_of.topic, partition=offsets_of.partition,
                      committed_on_source=committed, on_target=offsets_of.on_target,
                      expected=expected, status=status, exact=bound == 0, replay_bound=bound)


def translation(offsets_of: GroupPartitionOffsets, progress: PartitionProgress | None) -> tuple[int | None, int]:
    """The target offset for the group's committed one and how many records it may re-read.

    Records compared on both clusters (`proven`) are exact; otherwise MM2's syncs give an offset
    that never skips a record but may re-read some (`offsets.replay_bound`).
    """
    if offsets_of.proven is not None:
        return offsets_of.proven, 0
    if progress is None:
        return None, 0
    committed = offsets_of.committed_on_source
    return offsets.translate_for(progress, committed), offsets.replay_bound_for(progress, committed) or 0


def _writes(checks: list[GroupCheck]) -> tuple[OffsetWrite, ...]:
    return tuple(OffsetWrite(group=c.group, topic=c.topic, partition=c.partition, offset=c.expected)
                 for c in checks if c.status == "missing" and c.expected is not None)


def _names(checks: list[GroupCheck]) -> list[str]:
    return [f"{c.group} {c.topic}-{c.partition} (source {c.committed_on_source}, target {c.on_target}, "
            f"expected {c.expected}{'' if c.exact else f', may re-read up to {c.replay_bound}'})" for c in checks]
