"""Fetch specifics: record bytes are never copied, and an unchanged response is the input itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.messages import fetch
from protocol.patch.fetch import patch_fetch
from protocol.schema import encode, new
from tests.unit.protocol.messages.strategies import message
from tests.unit.protocol.patch.oracle import APIS, FakeNodeMap, IdentityNodeMap, joined, slow_path

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FETCH = next(api for api in APIS if api.name == "Fetch")
RECORDS = bytes(range(256)) * 1024  # 256 KiB


def _nothing_to_change(msg: Any) -> Any:
    """No NodeEndpoints and every CurrentLeader epoch already -1: an identity map changes nothing.

    (Setting NodeEndpoints before v16 adds a key the encoder ignores.)
    """
    msg.NodeEndpoints = None
    for topic in msg.Responses:
        for partition in topic.Partitions:
            if partition.get("CurrentLeader") is not None:
                partition.CurrentLeader.LeaderEpoch = -1
    return msg


@pytest.mark.parametrize("version", range(11, 19))
@EXAMPLES
@given(data=st.data())
def test_an_identity_map_returns_the_input_itself(version: int, data: st.DataObject) -> None:
    msg = _nothing_to_change(data.draw(message(fetch.RESPONSE, version)))
    body = memoryview(encode(fetch.RESPONSE, version, msg))
    out = patch_fetch(body, version, IdentityNodeMap())
    assert len(out) == 1 and out[0] is body


def _big_response(version: int) -> bytes:
    partition = {
        "PartitionIndex": 0,
        "HighWatermark": 1 << 40,
        "PreferredReadReplica": 9,
        "CurrentLeader": {"LeaderId": 4, "LeaderEpoch": 31},
        "AbortedTransactions": [],
        "Records": RECORDS,
    }
    endpoints = [{"NodeId": 9, "Host": "b9.real", "Port": 9092, "Rack": None}]
    topic = {"TopicId": uuid.UUID(int=5), "Partitions": [partition, dict(partition, PartitionIndex=1)]}
    return encode(fetch.RESPONSE, version, new(fetch.RESPONSE, version, Responses=[topic], NodeEndpoints=endpoints))


@pytest.mark.parametrize("version", [16, 17, 18])
def test_records_stay_views_of_the_input_while_leaders_and_endpoints_change(version: int) -> None:
    body = _big_response(version)
    out = patch_fetch(memoryview(body), version, FakeNodeMap("proxy"))
    assert isinstance(out, list)
    views = [piece for piece in out if isinstance(piece, memoryview)]
    copied = sum(len(piece) for piece in out if not isinstance(piece, memoryview))
    assert all(view.obj is body for view in views)
    assert copied < 64 and sum(len(view) for view in views) > 2 * len(RECORDS)
    assert joined(out) == slow_path(FETCH, version, body, FakeNodeMap("proxy"))


@pytest.mark.parametrize("version", range(4, 11))
def test_versions_before_preferred_read_replica_are_returned_unread(version: int) -> None:
    garbage = memoryview(b"\x00 not a fetch response")
    assert patch_fetch(garbage, version, FakeNodeMap())[0] is garbage
