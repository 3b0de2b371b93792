"""The pieces every patcher rewrites the same way: node ids, broker entries, KIP-951 leader hints.

The semantics are those of the slow path (decode, rewrite, encode) the tests compare against:
every real node id becomes `map.node(id)` (-1 stays -1), every broker address becomes the proxy's
host and the port of the virtual node, and every leader epoch becomes -1 so a client never compares
the epochs of two clusters. `map.node` is called in the order the slow path calls it (a learning
map hands out virtual ids in first-seen order), but only once per distinct id in one patch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.patch.wire import (
    INT32,
    INT32_PAIR,
    NO_EPOCH,
    Buffer,
    Pieces,
    Splice,
    array_length,
    fail,
    fixed,
    skip_string,
    skip_tags,
    string,
    tag_fields,
)
from protocol.primitives import encode_uvarint

if TYPE_CHECKING:
    from protocol.patch import NodeMap


class NodeIds(dict[bytes, bytes]):
    """Real node id -> virtual node id, both as big-endian int32 bytes, filled on first use."""

    __slots__ = ("map",)

    def __init__(self, node_map: NodeMap) -> None:
        super().__init__({NO_EPOCH: NO_EPOCH})  # -1 stays -1 without asking the map
        self.map = node_map

    def __missing__(self, raw: bytes) -> bytes:
        virtual = INT32.pack(self.map.node(INT32.unpack(raw)[0]))
        self[raw] = virtual
        return virtual


def address(node_map: NodeMap, real_id: int, compact: bool) -> bytes:
    """NodeId, Host, Port of a broker-shaped entry, pointing at the proxy."""
    virtual = node_map.node(real_id)
    return INT32.pack(virtual) + string(node_map.host, compact) + INT32.pack(node_map.port(virtual))


def broker_entries(data: Buffer, pos: int, node_map: NodeMap, compact: bool, rack: bool, out: Pieces) -> int:
    """An array of {NodeId, Host, Port, [Rack], [tags]} (Metadata brokers, NodeEndpoints), rewritten.

    Appends the new bytes to `out` (the count is kept, Rack and tags are copied) and returns the
    end of the array.
    """
    count, start = array_length(data, pos, compact)
    out.append(bytes(data[pos:start]))
    pos = start
    for _ in range(count):
        real_id = INT32.unpack_from(data, pos)[0]
        pos = fixed(data, skip_string(data, pos + 4, compact), 4)
        kept = pos
        if rack:
            pos = skip_string(data, pos, compact, nullable=True)
        if compact:
            pos = skip_tags(data, pos)
        out.append(address(node_map, real_id, compact))
        out.append(bytes(data[kept:pos]))
    return pos


def current_leader(data: Buffer, start: int, end: int, node_map: NodeMap) -> bytes | None:
    """A CurrentLeader {LeaderId, LeaderEpoch, tags} tag's first 8 bytes rewritten, or None if unchanged."""
    if end - start < 9 or skip_tags(data, start + 8) != end:
        fail("CurrentLeader does not fill its tagged field", start)
    leader, epoch = INT32_PAIR.unpack_from(data, start)
    virtual = leader if leader == -1 else node_map.node(leader)
    if virtual == leader and epoch == -1:
        return None
    return INT32_PAIR.pack(virtual, -1)


def node_endpoints(data: Buffer, start: int, end: int, node_map: NodeMap) -> bytes | None:
    """The contents of a tagged NodeEndpoints field rewritten, or None if unchanged."""
    out: Pieces = []
    if broker_entries(data, start, node_map, True, True, out) != end:
        fail("NodeEndpoints does not fill its tagged field", start)
    contents = b"".join(out)
    return None if contents == data[start:end] else contents


def resized_tag(size_at: int, end: int, contents: bytes) -> Splice:
    """Replace a tagged field's size and contents (the tag number before them stays)."""
    return (size_at, end, encode_uvarint(len(contents)) + contents)


def leader_tags(data: Buffer, pos: int, number: int, node_map: NodeMap, changes: list[Splice]) -> int:
    """A partition's tagged fields, its CurrentLeader (tag `number`) patched in place; returns the end."""
    if data[pos] == 0:
        return pos + 1
    tags, end = tag_fields(data, pos)
    for tag in tags:
        if tag.tag == number:
            patched = current_leader(data, tag.start, tag.end, node_map)
            if patched is not None:
                changes.append((tag.start, tag.start + 8, patched))
    return end


def endpoints_tags(data: Buffer, pos: int, node_map: NodeMap, changes: list[Splice]) -> int:
    """A top-level tagged section whose tag 0 is NodeEndpoints (Produce v10+, Fetch v16+)."""
    if data[pos] == 0:
        return pos + 1
    tags, end = tag_fields(data, pos)
    for tag in tags:
        if tag.tag == 0:
            contents = node_endpoints(data, tag.start, tag.end, node_map)
            if contents is not None:
                changes.append(resized_tag(tag.size_at, tag.end, contents))
    return end
