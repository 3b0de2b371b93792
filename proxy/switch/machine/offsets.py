"""Pure offset arithmetic for the switch: translating group offsets, judging mirror progress.

Translation follows MM2's own rule (`OffsetSyncStore.translateDownstream`) so that an offset the
proxy writes is the one MM2's group sync would have written, only sooner:

    g = the group's committed offset on the source (the next record it will read)
    s = the latest sync with s.upstream <= g
    g == s.upstream  ->  s.downstream       (record g is exactly target record s.downstream)
    g >  s.upstream  ->  s.downstream + 1   (g lies somewhere after s; resume just after s's copy)
    no such s        ->  untranslatable     (MM2 answers -1)

The `+ 1` branch may make a lagging group re-read up to `offset.lag.max` records: duplicates,
never loss. One case is exact without a sync: a group whose committed offset has reached the
source's end offset has read everything, so it resumes at the target's end offset. During a
planned switch the mirror gate has already proved every source record is on the target, so that
end is the first offset the target will give a new record.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from proxy.switch.machine.progress import OffsetSync, PartitionProgress, TailEntry


def translate_group_offset(committed_on_source: int, syncs: Iterable[OffsetSync],
                           source_end: int | None, target_end: int | None) -> int | None:
    """The target offset for a source committed offset, or None when it cannot be translated.

    `syncs` need not be sorted or unique. A negative committed offset (no commit) translates to
    None: there is nothing to carry over.
    """
    if committed_on_source < 0:
        return None
    if source_end is not None and target_end is not None and committed_on_source >= source_end:
        return target_end
    ordered = sorted(set(syncs))
    at = bisect.bisect_right(ordered, committed_on_source, key=lambda sync: sync[0])
    if at == 0:
        return _before_first_sync(committed_on_source, ordered)
    upstream, downstream = ordered[at - 1]
    return downstream if upstream == committed_on_source else downstream + 1


def _before_first_sync(committed: int, ordered: list[OffsetSync]) -> int | None:
    """Older than every sync: the lowest target offset the record can have, so nothing is skipped.

    MM2 emits syncs sparsely (one per flush per partition, plus forced ones), so a group that
    stopped early may be older than every sync kept. Between `committed` and the first sync
    (u0, d0) the source has u0 - committed offsets; the target has at most that many records there
    (markers and aborted records are not copied), so d0 - (u0 - committed) never lies after the
    true position: the group may re-read a few records, it never loses one.
    """
    if not ordered:
        return None
    upstream, downstream = ordered[0]
    return max(0, downstream - (upstream - committed))


def replay_bound(committed_on_source: int, syncs: Iterable[OffsetSync], source_end: int | None,
                 target_end: int | None) -> int | None:
    """At most how many records a group resumed at `translate_group_offset`'s answer re-reads.

    0 when the translation is exact: an exact sync, or a group that has read to the source's end.
    After sync s, the records s.upstream + 1 .. committed - 1 may be read again; before the first
    sync (u0, d0), at most u0 - committed. None when there is no translation at all.
    """
    if committed_on_source < 0:
        return None
    if source_end is not None and target_end is not None and committed_on_source >= source_end:
        return 0
    ordered = sorted(set(syncs))
    at = bisect.bisect_right(ordered, committed_on_source, key=lambda sync: sync[0])
    if at == 0:
        return None if not ordered else ordered[0][0] - committed_on_source
    return max(0, committed_on_source - ordered[at - 1][0] - 1)


def known_syncs(progress: PartitionProgress) -> tuple[OffsetSync, ...]:
    """Every sync the check reported for the partition, the exact one included."""
    extra = (progress.exact_sync,) if progress.exact_sync is not None else ()
    return tuple(sorted(set(progress.syncs + extra)))


def translate_for(progress: PartitionProgress, committed_on_source: int) -> int | None:
    """`translate_group_offset` with the partition's syncs and end offsets."""
    return translate_group_offset(committed_on_source, known_syncs(progress),
                                  progress.source_end_offset, progress.target_end_offset)


def replay_bound_for(progress: PartitionProgress, committed_on_source: int) -> int | None:
    """`replay_bound` with the partition's syncs and end offsets."""
    return replay_bound(committed_on_source, known_syncs(progress), progress.source_end_offset,
                        progress.target_end_offset)


def copied_upto(progress: PartitionProgress) -> int | None:
    """The last source record known to be on the target (a record offset), or None.

    MM2 commits its source offsets only periodically, but it emits a sync only after the target
    acknowledged the record, so the newest sync can be ahead of the committed offset.
    """
    candidates = [s[0] for s in known_syncs(progress)]
    if progress.mirrored_upto is not None:
        candidates.append(progress.mirrored_upto)
    return max(candidates, default=None)


def is_caught_up(progress: PartitionProgress) -> bool:
    """Has MM2 copied every data record of the partition onto the target?

    True when the partition holds no data record and exists on the target. Otherwise the newest
    record known to be copied (MM2's committed source offset, or a newer sync) must have reached
    the last data record. No sync for that very record is required: MM2 does not promise one for
    a partition that went quiet, and only a group's offset needs one (`matching` proves it
    otherwise), never the data itself.
    """
    if not progress.on_target:
        return False
    last = progress.source_last_data_offset
    if last is None:
        return True
    copied = copied_upto(progress)
    return copied is not None and copied >= last and progress.target_end_offset > 0


def mirror_lag(progress: PartitionProgress) -> int | None:
    """Source record offsets after MM2's committed offset up to the last data record (0 when caught
    up on data), or None when MM2 has committed nothing yet for a partition that holds data."""
    last = progress.source_last_data_offset
    if last is None:
        return 0
    if progress.mirrored_upto is None:
        return None
    return max(0, last - progress.mirrored_upto)


def emergency_tail(progress: PartitionProgress) -> int | None:
    """How many source offsets may be missing on the target if the source is lost now.

    Counted from the newest record known to be copied (`copied_upto`) to the last data record, so
    `last_data - copied`; None when nothing is known to be copied of a partition that has data
    (the source's log start is unknown). It is an upper bound in offsets: transaction markers and
    aborted records in the range count too, and MM2 may have copied more than it committed.
    Writes the source acknowledged after `progress` was observed are not counted at all.
    """
    last = progress.source_last_data_offset
    if last is None:
        return 0
    copied = copied_upto(progress)
    if copied is None:
        return None
    return max(0, last - copied)


def tail_report(partitions: Iterable[PartitionProgress]) -> tuple[TailEntry, ...]:
    """`emergency_tail` for every partition, with the offsets it was computed from."""
    return tuple(TailEntry(topic=p.topic, partition=p.partition, tail=emergency_tail(p),
                           last_data_offset=p.source_last_data_offset, copied_upto=copied_upto(p))
                 for p in partitions)
