"""Two layers, one truth: every patcher equals decode -> rewrite -> encode, byte for byte.

For each patched response at every version a 4.4 broker serves, random valid messages (the
spec-driven strategy, unknown tags included; half with node ids from a small pool so ids repeat
and -1 is common) go through both paths with equal, freshly made node maps.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.dataplane.virtual_cluster import VirtualCluster
from tests.unit.protocol.patch.oracle import (
    APIS,
    Api,
    FakeNodeMap,
    bodies,
    case_id,
    case_params,
    fast_path,
    joined,
    node_maps,
    slow_path,
)

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("api", "version"), case_params(), ids=case_id)
@EXAMPLES
@given(data=st.data())
def test_patcher_output_is_byte_identical_to_the_schema_path(api: Api, version: int, data: st.DataObject) -> None:
    body = data.draw(bodies(api, version))
    host, cluster_id, first = data.draw(node_maps())
    expected = slow_path(api, version, body, FakeNodeMap(host, cluster_id, first))
    assert fast_path(api, version, body, FakeNodeMap(host, cluster_id, first)) == expected


@pytest.mark.parametrize(("api", "version"), case_params(), ids=case_id)
@settings(EXAMPLES, max_examples=15)
@given(data=st.data())
def test_the_proxys_node_mapper_gives_both_paths_the_same_answer(api: Api, version: int, data: st.DataObject) -> None:
    body = data.draw(bodies(api, version))
    slow_map = VirtualCluster("vc", "proxy.example", 9300, 1 << 20).mapper("a")
    fast_map = VirtualCluster("vc", "proxy.example", 9300, 1 << 20).mapper("a")
    expected = slow_path(api, version, body, slow_map)  # type: ignore[arg-type]
    assert joined(api.patch(memoryview(body), version, fast_map)) == expected


def test_every_patched_api_is_covered() -> None:
    assert {api.spec.api_key for api in APIS} == {0, 1, 3, 10}
