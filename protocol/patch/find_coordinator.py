"""FindCoordinator response (key 10), v0-6: the coordinator's address, or one per key (v4+).

v0-3 carry one top-level [ThrottleTimeMs v1+] ErrorCode [ErrorMessage v1+] NodeId Host Port;
v4+ (KIP-699) a Coordinators array of {Key, NodeId, Host, Port, ErrorCode, ErrorMessage}. An
answer is rewritten only when its ErrorCode is 0: error answers carry -1/""/-1 and stay as they
are. The response is small, so the result is one bytes object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.errors import UnsupportedVersion
from protocol.patch.nodes import address
from protocol.patch.wire import INT16, INT32, array_length, fail, fixed, guarded, skip_string, skip_tags

if TYPE_CHECKING:
    from protocol.patch import NodeMap

API_KEY = 10
VERSIONS = range(0, 7)
NAME = "FindCoordinatorResponse"


def patch_find_coordinator(body: memoryview, version: int, node_map: NodeMap) -> bytes:
    """A FindCoordinator response body with every successful answer pointing at the proxy."""
    if version not in VERSIONS:
        raise UnsupportedVersion(NAME, version)
    if version < 4:
        return guarded(NAME, version, lambda: _single(body, version, node_map))
    return guarded(NAME, version, lambda: _batched(body, node_map))


def _single(body: memoryview, version: int, node_map: NodeMap) -> bytes:
    compact = version >= 3
    pos = fixed(body, 0, 4 if version >= 1 else 0)
    error = INT16.unpack_from(body, pos)[0]
    pos += 2
    if version >= 1:
        pos = skip_string(body, pos, compact, nullable=True)
    entry = pos
    real_id = INT32.unpack_from(body, pos)[0]
    pos = fixed(body, skip_string(body, pos + 4, compact), 4)
    kept = pos
    if compact:
        pos = skip_tags(body, pos)
    _at_end(body, pos)
    if error != 0:
        return bytes(body)
    return b"".join((body[:entry], address(node_map, real_id, compact), body[kept:]))


def _batched(body: memoryview, node_map: NodeMap) -> bytes:
    count, pos = array_length(body, fixed(body, 0, 4), True)
    out: list[bytes | memoryview] = [body[:pos]]
    for _ in range(count):
        start = pos
        entry = pos = skip_string(body, pos, True)  # Key
        real_id = INT32.unpack_from(body, pos)[0]
        kept = pos = fixed(body, skip_string(body, pos + 4, True), 4)
        error = INT16.unpack_from(body, pos)[0]
        pos = skip_tags(body, skip_string(body, pos + 2, True, nullable=True))
        if error == 0:
            out += (body[start:entry], address(node_map, real_id, True), body[kept:pos])
        else:
            out.append(body[start:pos])
    end = skip_tags(body, pos)
    _at_end(body, end)
    out.append(body[pos:end])
    return b"".join(out)


def _at_end(body: memoryview, pos: int) -> None:
    if pos != len(body):
        fail(f"{len(body) - pos} bytes after the FindCoordinator response", pos)
