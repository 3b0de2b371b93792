"""Metadata specifics: brokers-only mode, and a realistic cluster through both layers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.codec_bench import metadata_body
from protocol.messages import metadata
from protocol.patch.metadata import patch_metadata
from protocol.schema import decode
from tests.unit.protocol.patch.oracle import APIS, FakeNodeMap, bodies, fast_path, slow_path

METADATA = next(api for api in APIS if api.name == "Metadata")


@pytest.mark.parametrize("version", range(14))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_brokers_only_rewrites_the_head_and_passes_topics_on_as_a_view(version: int, data: st.DataObject) -> None:
    body = data.draw(bodies(METADATA, version))
    view = memoryview(body)
    head, topics = patch_metadata(view, version, FakeNodeMap("proxy", "vc"), partitions=False)
    rewritten = decode(metadata.RESPONSE, version, slow_path(METADATA, version, body, FakeNodeMap("proxy", "vc")))
    patched = decode(metadata.RESPONSE, version, bytes(head) + bytes(topics))
    original = decode(metadata.RESPONSE, version, body)
    assert isinstance(topics, memoryview) and topics.obj is body
    assert patched.Brokers == rewritten.Brokers
    assert (patched.get("ClusterId"), patched.get("ControllerId")) == (
        rewritten.get("ClusterId"),
        rewritten.get("ControllerId"),
    )
    assert patched.Topics == original.Topics


def test_a_six_broker_cluster_with_2400_partitions_is_patched_like_the_schema_path() -> None:
    body = metadata_body(seed=11)
    assert fast_path(METADATA, 12, body, FakeNodeMap("p", "c")) == slow_path(METADATA, 12, body, FakeNodeMap("p", "c"))


def test_every_leader_epoch_becomes_minus_one_and_node_ids_become_virtual() -> None:
    body = metadata_body(seed=3)
    patched = decode(metadata.RESPONSE, 12, fast_path(METADATA, 12, body, FakeNodeMap("proxy", "vc")))
    partitions = [p for topic in patched.Topics for p in topic.Partitions]
    assert {p.LeaderEpoch for p in partitions} == {-1}
    assert {n for p in partitions for n in (p.LeaderId, *p.ReplicaNodes, *p.IsrNodes)} == set(range(6))
    assert [(b.NodeId, b.Host, b.Port) for b in patched.Brokers] == [(n, "proxy", 19000 + n) for n in range(6)]
    assert (patched.ClusterId, patched.ControllerId) == ("vc", 2)
