"""Metadata response (key 3), v0-13, patched in one forward pass.

The body is: [ThrottleTimeMs v3+] Brokers ClusterId(v2+) ControllerId(v1+) Topics
[ClusterAuthorizedOperations v8-10] [ErrorCode v13+] [tags v9+]. Only the broker entries change
size (their Host becomes the proxy's), so the output is two pieces: the rewritten head (throttle,
brokers, cluster id, controller) built as new bytes, and the topics.

With `partitions=False` the topics are passed on as a slice of the input, unread: the brokers-only
mode, for callers that keep real partition leaders (and for the benchmark). The topics are then
not validated either, and their ids stay real. With `partitions=True` (the slow path's semantics) every partition's
LeaderId, ReplicaNodes, IsrNodes and OfflineReplicas are mapped and its LeaderEpoch set to -1.

Node ids are fixed-size, so the topics keep their size. They are rebuilt as pieces (slices between
the changed bytes, then one join), which measured faster than slice assignments into a bytearray
copy (about 120 ns each). Two per-patch caches keep a partition to three slices and two dict
lookups: real LeaderId -> its mapped bytes (with the -1 epoch), and the replica-array span
(ReplicaNodes, IsrNodes, OfflineReplicas with their lengths) -> its mapped bytes, since a cluster
has few distinct replica lists.

Topic ids (v10+): each topic's real id is learnt with its name (`node_map.topics.learn`) and
replaced by the virtual one in the joined topics, whose offsets equal the input's; a topic with a
null name (v12+, looked up by an id the broker does not know) keeps whatever id maps to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.errors import UnsupportedVersion
from protocol.patch.nodes import NodeIds, broker_entries
from protocol.patch.wire import (
    INT32,
    NO_EPOCH,
    Pieces,
    array_length,
    fail,
    fixed,
    guarded,
    skip_string,
    skip_tags,
    string,
    uvarint,
)

ZERO_ID = bytes(16)

if TYPE_CHECKING:
    from protocol.patch import NodeMap
    from protocol.patch.topic_ids import TopicIds

API_KEY = 3
VERSIONS = range(0, 14)
NAME = "MetadataResponse"


def patch_metadata(body: memoryview, version: int, node_map: NodeMap, partitions: bool = True) -> Pieces:
    """A Metadata response body rewritten for the virtual cluster, as pieces to write in order."""
    if version not in VERSIONS:
        raise UnsupportedVersion(NAME, version)
    return guarded(NAME, version, lambda: _patch(body, version, node_map, partitions))


def _patch(body: memoryview, version: int, node_map: NodeMap, partitions: bool) -> Pieces:
    compact = version >= 9
    pos = fixed(body, 0, 4 if version >= 3 else 0)
    head: Pieces = [bytes(body[:pos])]
    pos = broker_entries(body, pos, node_map, compact, version >= 1, head)
    if version >= 2:
        pos = skip_string(body, pos, compact, nullable=True)
        head.append(string(node_map.cluster_id, compact))
    if version >= 1:
        head.append(INT32.pack(node_map.node(INT32.unpack_from(body, pos)[0])))
        pos += 4
    if pos > len(body):
        fail("Metadata head runs past the end", pos)
    if not partitions:
        return [b"".join(head), body[pos:]]
    return [b"".join(head), _topics(bytes(body[pos:]), version, NodeIds(node_map), node_map.topics)]


def _topics(data: bytes, version: int, ids: NodeIds, topic_ids: TopicIds) -> bytes | memoryview:
    """Topics and the tail of the body, with every partition's node ids and epoch rewritten."""
    compact = version >= 9
    walk = _Partitions(data, ids, version)
    named: list[tuple[int, int]] = []  # (where a Name starts, where its TopicId starts), v10+
    count, pos = array_length(data, 0, compact)
    for _ in range(count):
        name_at = pos + 2  # after ErrorCode
        pos = skip_string(data, name_at, compact, nullable=version >= 12)
        if version >= 10:
            named.append((name_at, pos))
        pos += (16 if version >= 10 else 0) + (1 if version >= 1 else 0)  # TopicId, IsInternal
        partition_count, pos = array_length(data, pos, compact)
        pos = walk.compact(pos, partition_count) if compact else walk.classic(pos, partition_count)
        pos += 4 if version >= 8 else 0  # TopicAuthorizedOperations
        if compact:
            pos = skip_tags(data, pos)
    pos += (4 if 8 <= version <= 10 else 0) + (2 if version >= 13 else 0)
    if compact:
        pos = skip_tags(data, pos)
    if pos != len(data):
        fail(f"{len(data) - pos} bytes after the Metadata topics", pos)
    return _virtual_ids(walk.result(), named, topic_ids) if named else walk.result()


def _virtual_ids(topics: bytes, named: list[tuple[int, int]], topic_ids: TopicIds) -> memoryview:
    """Each topic's real id learnt with its name and replaced by the virtual one (same offsets)."""
    out = bytearray(topics)
    for name_at, id_at in named:
        real = topics[id_at : id_at + 16]
        if real == ZERO_ID:
            continue
        n, start = uvarint(topics, name_at)
        if n == 0:  # a null name (v12+ lookup by an id the broker does not know)
            out[id_at : id_at + 16] = topic_ids.to_virtual[real]
        else:
            out[id_at : id_at + 16] = topic_ids.learn(topics[start : start + n - 1].decode("utf-8", "replace"), real)
    return memoryview(out)


class _Partitions:
    """The partitions of every topic, rewritten into pieces: unchanged slices, mapped leader, mapped arrays.

    Per partition the output is the slice since the previous one (its tags, this ErrorCode and
    PartitionIndex), then the mapped LeaderId (with -1 for LeaderEpoch from v7), then the mapped
    replica arrays: three slices and two dict lookups, the least pure Python can do.
    """

    __slots__ = ("data", "last", "leaders", "out", "replicas", "version")

    def __init__(self, data: bytes, ids: NodeIds, version: int) -> None:
        self.data = data
        self.version = version
        self.out: list[bytes] = []
        self.last = 0
        self.leaders = LeaderIds(ids, NO_EPOCH if version >= 7 else b"")
        self.replicas = ReplicaLists(ids, version >= 9, 3 if version >= 5 else 2)

    def compact(self, pos: int, count: int) -> int:
        """v9+ partitions: LeaderEpoch and three compact arrays, one-byte lengths read inline."""
        data, out, last, leaders, replicas = self.data, self.out, self.last, self.leaders, self.replicas
        for _ in range(count):
            at = pos + 6  # LeaderId, after ErrorCode and PartitionIndex
            start = q = at + 8  # the arrays, after LeaderEpoch
            n = data[q]
            q = q + 4 * n - 3 if 0 < n < 0x80 else _skip_ids(data, q, True)
            n = data[q]
            q = q + 4 * n - 3 if 0 < n < 0x80 else _skip_ids(data, q, True)
            n = data[q]
            q = q + 4 * n - 3 if 0 < n < 0x80 else _skip_ids(data, q, True)
            tags = data[q]  # IndexError (a DecodeError) if the partition runs past the end
            out += (data[last:at], leaders[data[at : at + 4]], replicas[data[start:q]])
            last = q
            pos = q + 1 if tags == 0 else skip_tags(data, q)
        self.last = last
        return pos

    def classic(self, pos: int, count: int) -> int:
        """v0-8 partitions: int32 array lengths, LeaderEpoch from v7, OfflineReplicas from v5."""
        data, out, last, leaders, replicas = self.data, self.out, self.last, self.leaders, self.replicas
        skip_epoch = 8 if self.version >= 7 else 4
        for _ in range(count):
            at = pos + 6
            start = q = at + skip_epoch
            for _array in range(replicas.arrays):
                q = _skip_ids(data, q, False)
            if q > len(data):
                fail("partition runs past the end", start)
            out += (data[last:at], leaders[data[at : at + 4]], replicas[data[start:q]])
            last = pos = q
        self.last = last
        return pos

    def result(self) -> bytes:
        self.out.append(self.data[self.last :])
        return b"".join(self.out)


def _skip_ids(data: bytes, pos: int, compact: bool) -> int:
    n, pos = array_length(data, pos, compact)
    return pos + 4 * n


class LeaderIds(dict[bytes, bytes]):
    """A real LeaderId -> the virtual one followed by `suffix` (the -1 LeaderEpoch from v7)."""

    __slots__ = ("ids", "suffix")

    def __init__(self, ids: NodeIds, suffix: bytes) -> None:
        super().__init__()
        self.ids = ids
        self.suffix = suffix

    def __missing__(self, raw: bytes) -> bytes:
        mapped = self.ids[raw] + self.suffix
        self[raw] = mapped
        return mapped


class ReplicaLists(dict[bytes, bytes]):
    """The bytes of a partition's node-id arrays (lengths included) -> the same arrays mapped."""

    __slots__ = ("arrays", "compact", "ids")

    def __init__(self, ids: NodeIds, compact: bool, arrays: int) -> None:
        super().__init__()
        self.ids = ids
        self.compact = compact
        self.arrays = arrays

    def __missing__(self, span: bytes) -> bytes:
        ids, compact = self.ids, self.compact
        out: list[bytes] = []
        pos = 0
        for _ in range(self.arrays):
            n = span[pos] - 1
            if compact and 0 <= n < 0x7F:  # a one-byte compact length, read inline
                after = pos + 1
            else:
                n, after = array_length(span, pos, compact)
            out.append(span[pos:after])
            pos = after + 4 * n
            for at in range(after, pos, 4):  # a plain loop: cheaper than a comprehension here
                out.append(ids[span[at : at + 4]])
        if pos != len(span):
            fail("partition node-id arrays do not add up", pos)
        mapped = b"".join(out)
        self[span] = mapped
        return mapped
