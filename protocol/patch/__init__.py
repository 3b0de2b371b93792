"""Hand-written patchers for the hot responses the proxy rewrites: the fast layer of "two layers, one truth".

The schema layer (decode -> rewrite -> encode) is the readable truth and costs milliseconds on a
large Metadata response; these patchers walk the body once with `struct` and varint readers and
emit the output as pieces: slices of the input around the few bytes that change, plus small new
byte strings. Record bytes in Produce and Fetch responses are never copied. The tests run both
layers on generated messages at every version and require byte-identical output.

A patcher is `patch(body, version, node_map)`: `body` is the response body (after the response
header) as a byte memoryview, `version` the request's api version. It returns either one `bytes`
or a list of pieces to write in order (`transport.writelines`, or `b"".join`); a list holding only
`body` itself means nothing changed. Malformed bodies raise `DecodeError`, versions outside
`patched_versions` raise `UnsupportedVersion`; nothing else escapes on purpose.

`NodeMap` is what a patcher needs from the proxy's virtual cluster (the proxy's `NodeMapper`
satisfies it): real -> virtual node ids (-1 stays -1), the advertised host, the port of a virtual
node, the virtual cluster id, and the cluster's topic ids (real <-> virtual, see `topic_ids`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from protocol.errors import UnsupportedVersion
from protocol.patch import fetch, find_coordinator, metadata, produce
from protocol.patch.topic_ids import TopicIds


class NodeMap(Protocol):
    """The virtual cluster as one upstream cluster's responses must be rewritten for it."""

    @property
    def host(self) -> str: ...

    @property
    def cluster_id(self) -> str: ...

    @property
    def topics(self) -> TopicIds:
        """This cluster's real <-> virtual topic ids."""
        ...

    def node(self, real_node_id: int, /) -> int:
        """Real node id -> virtual node id; -1 stays -1."""
        ...

    def port(self, virtual_node: int, /) -> int:
        """The proxy port that fronts a virtual node."""
        ...


Patched = bytes | list[bytes | memoryview]
Patcher = Callable[[memoryview, int, NodeMap], Patched]

PATCHERS: dict[int, Patcher] = {
    produce.API_KEY: produce.patch_produce,
    fetch.API_KEY: fetch.patch_fetch,
    metadata.API_KEY: metadata.patch_metadata,
    find_coordinator.API_KEY: find_coordinator.patch_find_coordinator,
}

_VERSIONS: dict[int, range] = {
    produce.API_KEY: produce.VERSIONS,
    fetch.API_KEY: fetch.VERSIONS,
    metadata.API_KEY: metadata.VERSIONS,
    find_coordinator.API_KEY: find_coordinator.VERSIONS,
}


def patched_versions(api_key: int) -> range:
    """The response versions the patcher of `api_key` accepts (an empty range if there is none)."""
    return _VERSIONS.get(api_key, range(0))


def patch(api_key: int, version: int, body: memoryview, node_map: NodeMap) -> Patched:
    """Dispatch to the patcher of `api_key`; `UnsupportedVersion` if there is none for this version."""
    patcher = PATCHERS.get(api_key)
    if patcher is None:
        raise UnsupportedVersion(f"patcher for api key {api_key}", version)
    return patcher(body, version, node_map)
