"""What the executor's checks observe on the clusters, as plain immutable values.

These are the evidence types: check replies carry them into the machine, the machine keeps them in
the switch record, and `offsets` computes with them. Offsets follow Kafka's conventions exactly:

- an *end offset* (log end offset, LEO) is the offset the next record will get;
- a *record offset* (last data offset, MM2's committed upstream offset, a sync's upstream offset)
  names one existing record;
- a group's *committed offset* is the next record the group will read.

Mixing the two kinds is the classic off-by-one of offset translation, so every field says which
kind it is.
"""

from __future__ import annotations

from dataclasses import dataclass

TopicPartition = tuple[str, int]
OffsetSync = tuple[int, int]
"""One MM2 offset sync `(upstream, downstream)`: source record `upstream` is target record `downstream`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionProgress:
    """How far MM2 has copied one source partition to the target.

    source_end_offset: the source's log end offset.
    source_last_data_offset: offset of the source's last data (non-control) record; None when the
        partition holds no data record. With no open transaction it is below the end offset by the
        number of trailing transaction markers.
    mirrored_upto: MM2's committed upstream offset for the partition (the `offset` value in
        `mm2-offsets.<source>.internal`): the last source record it has copied; None if none yet.
    target_end_offset: the target's log end offset for the mirrored partition.
    exact_sync: the offset sync whose upstream offset is `source_last_data_offset`, if MM2 emitted
        it: the exact source -> target offset map at the switch point.
    syncs: every other known sync of the partition (any order); translation of lagging groups
        needs them.
    on_target: the partition exists on the target (MM2 creates topics a moment after they appear).
    """

    topic: str
    partition: int
    source_end_offset: int
    source_last_data_offset: int | None
    mirrored_upto: int | None
    target_end_offset: int
    exact_sync: OffsetSync | None = None
    syncs: tuple[OffsetSync, ...] = ()
    on_target: bool = True

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPartitionOffsets:
    """One consumer group's offsets for one partition, on both clusters.

    committed_on_source: the group's committed offset on the source; -1 when it has none.
    on_target: the group's committed offset on the target; None when absent there.
    proven: the target offset the group resumes at, proven by comparing records on both clusters
        (`matching.resume_offset`); None when no proof was possible. It wins over MM2's syncs.
    """

    topic: str
    partition: int
    committed_on_source: int
    on_target: int | None
    proven: int | None = None

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupOffsets:
    """A consumer group as the check saw it.

    members: active members on the source at check time. A group with members is expected to
    rejoin on the target after the flip; a group with none is only an offsets carrier.
    """

    group: str
    members: int
    partitions: tuple[GroupPartitionOffsets, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OffsetWrite:
    """One committed offset to write to the target (what MM2's group sync would have written)."""

    group: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupCheck:
    """The verdict on one group's offset for one partition: what the target must hold.

    expected is the translation of `committed_on_source` (None: no commit, or untranslatable);
    status is "ok" (target holds it), "missing" (write it), "lagging" (an active group has not
    reached the source's end yet), "inexact" (translated, but the group may re-read up to
    `replay_bound` records, and the operator has not accepted that), "untranslatable" or
    "no_commit". `exact` says whether `expected` is proven (records compared, an exact sync, or a
    group at the source's end) rather than a bound from MM2's sparse syncs.
    """

    group: str
    topic: str
    partition: int
    committed_on_source: int
    on_target: int | None
    expected: int | None
    status: str
    exact: bool = True
    replay_bound: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TailEntry:
    """Emergency evidence for one partition: source offsets that may never have reached the target."""

    topic: str
    partition: int
    tail: int | None
    last_data_offset: int | None
    copied_upto: int | None
