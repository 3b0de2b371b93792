"""Produce response (key 0), v3-13: KIP-951 leader hints mapped, everything else passed through.

Only v10+ can carry hints: a tagged CurrentLeader (tag 0) at the end of a partition and a tagged
NodeEndpoints (tag 0) at the end of the body. Almost every response has neither, so the patcher is
a scan that records changes and, finding none, returns the input itself (no copy, no join). With
hints, the output is slices of the input around the changed bytes. Versions before 10 have
nothing to rewrite and are returned unread.

Partition v10+: Index(4) ErrorCode(2) BaseOffset(8) LogAppendTimeMs(8) LogStartOffset(8)
RecordErrors[{BatchIndex, BatchIndexErrorMessage, tags}] ErrorMessage tags. Topics name the topic
(v10-12) or its TopicId (v13); ThrottleTimeMs follows the topics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.errors import UnsupportedVersion
from protocol.patch.nodes import endpoints_tags, leader_tags
from protocol.patch.wire import (
    Pieces,
    Splice,
    array_length,
    fail,
    fixed,
    guarded,
    skip_string,
    skip_tags,
    splice,
)

if TYPE_CHECKING:
    from protocol.patch import NodeMap

API_KEY = 0
VERSIONS = range(3, 14)
NAME = "ProduceResponse"
FIRST_WITH_HINTS = 10
PARTITION_FIXED = 30  # Index, ErrorCode, BaseOffset, LogAppendTimeMs, LogStartOffset


def patch_produce(body: memoryview, version: int, node_map: NodeMap) -> Pieces:
    """A Produce response body with leader hints mapped; `[body]` itself when there are none."""
    if version not in VERSIONS:
        raise UnsupportedVersion(NAME, version)
    if version < FIRST_WITH_HINTS:
        return [body]
    return guarded(NAME, version, lambda: splice(body, _changes(body, version, node_map)))


def _changes(body: memoryview, version: int, node_map: NodeMap) -> list[Splice]:
    changes: list[Splice] = []
    count, pos = array_length(body, 0, True)
    for _ in range(count):
        pos = fixed(body, pos, 16) if version >= 13 else skip_string(body, pos, True)
        partitions, pos = array_length(body, pos, True)
        for _ in range(partitions):
            pos = _partition(body, fixed(body, pos, PARTITION_FIXED), node_map, changes)
        pos = skip_tags(body, pos)
    pos = endpoints_tags(body, fixed(body, pos, 4), node_map, changes)  # after ThrottleTimeMs
    if pos != len(body):
        fail(f"{len(body) - pos} bytes after the Produce response", pos)
    return changes


def _partition(body: memoryview, pos: int, node_map: NodeMap, changes: list[Splice]) -> int:
    """From RecordErrors to the end of one partition (its tags hold CurrentLeader)."""
    errors, pos = array_length(body, pos, True)
    for _ in range(errors):
        pos = skip_tags(body, skip_string(body, fixed(body, pos, 4), True, nullable=True))
    pos = skip_string(body, pos, True, nullable=True)  # ErrorMessage
    return leader_tags(body, pos, 0, node_map, changes)
