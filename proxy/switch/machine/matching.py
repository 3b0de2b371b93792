"""Where a source record sits on the target, proven by comparing the records themselves.

MirrorMaker 2's offset syncs are the cheap evidence for translating a group's offset, but MM2 does
not promise a sync for every position: for a partition that was written and then went quiet, the
sync for its last records may never come (syncs are queued per partition, overwritten by newer
ones, and flushed only while permits and commits allow; see KAFKA-14666 and KAFKA-15906). A planned
switch must not wait for traffic that may never come, so the proxy brings its own evidence.

MM2 copies every committed data record of a source partition, in order, into the same partition
of the target, keeping timestamp, key, value and headers; it copies no control marker and no
aborted record. Once the mirror has caught up, the source's committed data records from some
position up to its last one and the last records of the target's log are therefore the same
sequence. Aligning the two from the end, record by record, proves for each source record the
target offset that holds its copy. Anything that breaks the sequence (a record missing on the
target, a duplicate written by a retry, a record written to the target by someone else) makes the
contents disagree somewhere, and the proof is refused rather than guessed: the caller then falls
back to MM2's syncs and reports the replay bound those give.

Contents are opaque values compared for equality (the executor passes timestamp, key, value and
headers); offsets follow `progress`'s conventions (record offsets, not end offsets).
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Mapping, Sequence

SourceRecord = tuple[int, Hashable]
"""`(offset, content)` of one committed data record."""


def align_tails(source: Sequence[SourceRecord], target: Sequence[SourceRecord]) -> dict[int, int] | None:
    """Source offset -> target offset for every record of `source`, or None when not proven.

    `source` is a run of committed data records ending with the source's last one; `target` the
    data records at the end of the target's log, both in offset order. Proven only when the last
    `len(source)` target records carry the same contents in the same order.
    """
    if not source or len(target) < len(source):
        return None
    tail = target[len(target) - len(source):]
    if any(s[1] != t[1] for s, t in zip(source, tail, strict=True)):
        return None
    return {s[0]: t[0] for s, t in zip(source, tail, strict=True)}


def resume_offset(committed: int, mapping: Mapping[int, int], source_offsets: Sequence[int]) -> int:
    """The target offset a group committed at `committed` on the source resumes at.

    `mapping` is `align_tails`' proof for the source records `source_offsets` (in order, starting
    at or before the group's next record, ending with the source's last data record). The group
    resumes at the copy of the first data record at or after `committed`; when there is none (it
    has read everything), just after the copy of the last one.
    """
    at = bisect.bisect_left(source_offsets, committed)
    if at < len(source_offsets):
        return mapping[source_offsets[at]]
    return mapping[source_offsets[-1]] + 1
