"""Reads the records `switch.matching` compares, to prove where a group resumes on the target.

For one group partition the prover reads the source's committed data records from the group's
position (or the last data record, for a group that has read everything) to the last data record,
and as many records from the end of the target's log, then lets `matching.resume_offset` decide.
Reads are bounded by the configured window; alignments are cached per partition while its last
data record and the target's end stay the same, so the settle loop's repeated group checks and
the many groups of one partition cost one read per side.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.switch.machine import matching
from proxy.switch.machine.progress import PartitionProgress
from proxy.upstream.cluster_admin import ClusterAdmin, PartitionInfo, TopicPartition

TARGET_SLACK = 16
"""Extra offsets read on the target, so a stray control marker there does not shorten its tail."""


@dataclass(frozen=True, slots=True)
class _Alignment:
    start: int
    last: int
    target_end: int
    mapping: dict[int, int] | None
    source_offsets: tuple[int, ...]


class PositionProver:
    """Proves resume offsets on `target` for groups of `source`, one partition at a time."""

    def __init__(self, window_records: int) -> None:
        self.window_records = window_records
        self._cache: dict[TopicPartition, _Alignment] = {}

    async def resume_offset(self, source: ClusterAdmin, target: ClusterAdmin, progress: PartitionProgress,
                            committed: int, source_leader: int, target_parts: dict[TopicPartition, PartitionInfo]
                            ) -> int | None:
        """The proven target offset for a group committed at `committed`, or None (no proof)."""
        last = progress.source_last_data_offset
        target_info = target_parts.get(progress.tp)
        if committed < 0 or last is None or target_info is None:
            return None
        start = min(committed, last)
        if last - start >= self.window_records:
            return None
        alignment = self._cache.get(progress.tp)
        if alignment is None or alignment.start > start or alignment.last != last \
                or alignment.target_end != progress.target_end_offset:
            alignment = await self._align(source, target, progress, start, source_leader, target_info.leader)
            self._cache[progress.tp] = alignment
        if alignment.mapping is None:
            return None
        return matching.resume_offset(committed, alignment.mapping, alignment.source_offsets)

    async def _align(self, source: ClusterAdmin, target: ClusterAdmin, progress: PartitionProgress, start: int,
                     source_leader: int, target_leader: int) -> _Alignment:
        last = progress.source_last_data_offset
        assert last is not None
        source_records = await source.committed_records(progress.tp, source_leader, start, last + 1)
        end = progress.target_end_offset
        target_start = max(0, end - len(source_records) - TARGET_SLACK)
        target_records = await target.committed_records(progress.tp, target_leader, target_start, end)
        mapping = matching.align_tails([(r.offset, r.content()) for r in source_records],
                                       [(r.offset, r.content()) for r in target_records])
        return _Alignment(start, last, end, mapping, tuple(r.offset for r in source_records))
