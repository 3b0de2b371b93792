"""Produce specifics: a response without leader hints comes back as the input itself."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.messages import produce
from protocol.patch.produce import patch_produce
from protocol.schema import encode, new
from tests.unit.protocol.messages.strategies import message
from tests.unit.protocol.patch.oracle import FakeNodeMap, node_maps

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _without_hints(msg: Any) -> Any:
    msg.NodeEndpoints = None
    for topic in msg.Responses:
        for partition in topic.PartitionResponses:
            partition.CurrentLeader = None
    return msg


@pytest.mark.parametrize("version", range(10, 14))
@EXAMPLES
@given(data=st.data())
def test_without_leader_hints_the_input_itself_is_returned(version: int, data: st.DataObject) -> None:
    body = memoryview(encode(produce.RESPONSE, version, _without_hints(data.draw(message(produce.RESPONSE, version)))))
    out = patch_produce(body, version, FakeNodeMap(*data.draw(node_maps())))
    assert len(out) == 1 and out[0] is body


@pytest.mark.parametrize("version", range(3, 10))
def test_versions_before_kip_951_are_returned_unread(version: int) -> None:
    garbage = memoryview(b"\xff not a produce response")
    assert patch_produce(garbage, version, FakeNodeMap())[0] is garbage


def test_a_current_leader_hint_is_patched_around_views_of_the_input() -> None:
    partition = {"Index": 0, "ErrorCode": 6, "BaseOffset": -1, "CurrentLeader": {"LeaderId": 42, "LeaderEpoch": 17}}
    msg = new(produce.RESPONSE, 12, Responses=[{"Name": "orders", "PartitionResponses": [partition]}])
    body = memoryview(encode(produce.RESPONSE, 12, msg))
    out = patch_produce(body, 12, FakeNodeMap(first=5))
    views = [piece for piece in out if isinstance(piece, memoryview)]
    assert all(view.obj is body.obj for view in views)
    assert [bytes(piece) for piece in out if not isinstance(piece, memoryview)] == [b"\x00\x00\x00\x05\xff\xff\xff\xff"]
