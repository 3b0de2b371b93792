"""Fetch response (key 1), v4-18: broker identities mapped, record bytes never copied.

What can name a broker: PreferredReadReplica (int32, v11+, KIP-392), a tagged CurrentLeader
(tag 1) at the end of each partition (v12+) and a tagged NodeEndpoints (tag 0) at the end of the
body (v16+). The patcher walks the structure without touching record bytes (their length is read,
their contents skipped) and returns slices of the input around the few changed bytes; with no
change it returns the input itself. Versions before 11 carry nothing to rewrite and are returned
unread.

Partition: PartitionIndex(4) ErrorCode(2) HighWatermark(8) LastStableOffset(8) LogStartOffset(8)
AbortedTransactions[{ProducerId, FirstOffset, tags v12+}] (nullable) PreferredReadReplica(4)
Records (nullable bytes) tags(v12+). Body: ThrottleTimeMs ErrorCode SessionId Responses tags(v12+).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.errors import UnsupportedVersion
from protocol.patch.nodes import endpoints_tags, leader_tags
from protocol.patch.wire import (
    INT32,
    Pieces,
    Splice,
    array_length,
    fail,
    fixed,
    guarded,
    skip_bytes,
    skip_string,
    skip_tags,
    splice,
)

if TYPE_CHECKING:
    from protocol.patch import NodeMap

API_KEY = 1
VERSIONS = range(4, 19)
NAME = "FetchResponse"
FIRST_WITH_REPLICA = 11
FIRST_WITH_ENDPOINTS = 16
HEAD = 10  # ThrottleTimeMs, ErrorCode, SessionId
PARTITION_FIXED = 30  # PartitionIndex, ErrorCode, HighWatermark, LastStableOffset, LogStartOffset
ABORTED = 16  # ProducerId, FirstOffset


def patch_fetch(body: memoryview, version: int, node_map: NodeMap) -> Pieces:
    """A Fetch response body with broker identities mapped, as slices of `body` (`[body]` if unchanged)."""
    if version not in VERSIONS:
        raise UnsupportedVersion(NAME, version)
    if version < FIRST_WITH_REPLICA:
        return [body]
    return guarded(NAME, version, lambda: splice(body, _changes(body, version, node_map)))


def _changes(body: memoryview, version: int, node_map: NodeMap) -> list[Splice]:
    compact = version >= 12
    changes: list[Splice] = []
    count, pos = array_length(body, fixed(body, 0, HEAD), compact)
    for _ in range(count):
        pos = fixed(body, pos, 16) if version >= 13 else skip_string(body, pos, compact)
        partitions, pos = array_length(body, pos, compact)
        for _ in range(partitions):
            pos = _partition(body, fixed(body, pos, PARTITION_FIXED), compact, node_map, changes)
        if compact:
            pos = skip_tags(body, pos)
    if version >= FIRST_WITH_ENDPOINTS:
        pos = endpoints_tags(body, pos, node_map, changes)
    elif compact:
        pos = skip_tags(body, pos)
    if pos != len(body):
        fail(f"{len(body) - pos} bytes after the Fetch response", pos)
    return changes


def _partition(body: memoryview, pos: int, compact: bool, node_map: NodeMap, changes: list[Splice]) -> int:
    """From AbortedTransactions to the end of one partition."""
    aborted, pos = array_length(body, pos, compact, nullable=True)
    if compact:
        for _ in range(aborted):
            pos = skip_tags(body, fixed(body, pos, ABORTED))
    elif aborted > 0:
        pos = fixed(body, pos, ABORTED * aborted)
    replica = INT32.unpack_from(body, pos)[0]
    if replica != -1:
        virtual = node_map.node(replica)
        if virtual != replica:
            changes.append((pos, pos + 4, INT32.pack(virtual)))
    pos = skip_bytes(body, pos + 4, compact, nullable=True)  # Records: length read, bytes skipped
    return leader_tags(body, pos, 1, node_map, changes) if compact else pos
