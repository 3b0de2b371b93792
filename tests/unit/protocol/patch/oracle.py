"""Test helper: the slow path every patcher must agree with, and the node maps both paths use.

The oracle is the schema layer plus the proxy's rewriters: decode, rewrite in place, encode. A
patcher is correct when its output, joined, is byte-identical to that for the same body and an
equal node map. The fake map learns real ids in first-seen order (as the proxy's sticky slots learn
an unknown broker), so a patcher that asked about ids in a different order would hand out
different virtual ids and fail the comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import construct as cs
from hypothesis import strategies as st

from protocol.messages import fetch, find_coordinator, metadata, produce
from protocol.patch import NodeMap, Patched
from protocol.patch.fetch import patch_fetch
from protocol.patch.find_coordinator import patch_find_coordinator
from protocol.patch.metadata import patch_metadata
from protocol.patch.produce import patch_produce
from protocol.schema import MessageSpec, decode, encode
from proxy.dataplane.rewrite.addresses import rewrite_find_coordinator, rewrite_metadata
from proxy.dataplane.rewrite.leaders import rewrite_fetch, rewrite_produce
from proxy.dataplane.topic_ids import ClusterTopicIds
from tests.unit.protocol.messages.strategies import message

NODE_FIELDS = frozenset(
    {
        "NodeId",
        "LeaderId",
        "LeaderEpoch",
        "ControllerId",
        "PreferredReadReplica",
        "ReplicaNodes",
        "IsrNodes",
        "OfflineReplicas",
    }
)


class FakeNodeMap:
    """Virtual ids handed out in first-seen order from `first`; negative ids stay as they are."""

    def __init__(self, host: str = "proxy.test", cluster_id: str = "virtual", first: int = 0) -> None:
        self.host = host
        self.cluster_id = cluster_id
        self.first = first
        self.seen: dict[int, int] = {}
        self.topics = ClusterTopicIds(cluster_id)

    def node(self, real_node_id: int, /) -> int:
        if real_node_id < 0:
            return real_node_id
        return self.seen.setdefault(real_node_id, self.first + len(self.seen))

    def port(self, virtual_node: int, /) -> int:
        return 19000 + virtual_node


class IdentityNodeMap(FakeNodeMap):
    """Every node is itself: only hosts, ports, cluster ids and epochs could still change."""

    def node(self, real_node_id: int, /) -> int:
        return real_node_id


@dataclass(frozen=True)
class Api:
    """One patched response: its spec, the slow-path rewriter and the patcher."""

    name: str
    spec: MessageSpec
    rewrite: Callable[[Any, int, Any], None]
    patch: Callable[[memoryview, int, NodeMap], Patched]

    @property
    def versions(self) -> range:
        low, high = self.spec.version_range
        return range(low, high + 1)


APIS = (
    Api("Metadata", metadata.RESPONSE, rewrite_metadata, patch_metadata),
    Api("FindCoordinator", find_coordinator.RESPONSE, rewrite_find_coordinator, patch_find_coordinator),
    Api("Produce", produce.RESPONSE, rewrite_produce, patch_produce),
    Api("Fetch", fetch.RESPONSE, rewrite_fetch, patch_fetch),
)


def joined(patched: Patched) -> bytes:
    return patched if isinstance(patched, bytes) else b"".join(patched)


def slow_path(api: Api, version: int, body: bytes, node_map: FakeNodeMap) -> bytes:
    msg = decode(api.spec, version, body)
    api.rewrite(msg, version, node_map)
    return encode(api.spec, version, msg)


def fast_path(api: Api, version: int, body: bytes, node_map: FakeNodeMap) -> bytes:
    return joined(api.patch(memoryview(body), version, node_map))


def small_node_ids(obj: Any) -> Any:
    """Every node id and epoch folded into -1..3, so ids repeat, -1 is common and caches get hits."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in NODE_FIELDS and isinstance(value, int):
                obj[key] = value % 5 - 1
            elif key in NODE_FIELDS and isinstance(value, list):
                obj[key] = [v % 5 - 1 for v in value]
            else:
                small_node_ids(value)
    elif isinstance(obj, list):
        for item in obj:
            small_node_ids(item)
    return obj


@st.composite
def bodies(draw: st.DrawFn, api: Api, version: int) -> bytes:
    """Encoded random responses; half of them with node ids from a small pool."""
    msg: cs.Container = draw(message(api.spec, version))
    if draw(st.booleans()):
        small_node_ids(msg)
    return encode(api.spec, version, msg)


@st.composite
def node_maps(draw: st.DrawFn) -> tuple[str, str, int]:
    """Arguments of a FakeNodeMap: hosts long enough to need two-byte length varints too."""
    host = draw(st.sampled_from(["p", "kafka-proxy.example.internal", "h" * 140]) | st.text(max_size=150))
    cluster_id = draw(st.text(max_size=30))
    return host, cluster_id, draw(st.integers(0, 1000))


def case_params() -> list[tuple[Api, int]]:
    return [(api, version) for api in APIS for version in api.versions]


def case_id(case: Any) -> str:
    if isinstance(case, Api):
        return case.name
    return f"v{case}"
