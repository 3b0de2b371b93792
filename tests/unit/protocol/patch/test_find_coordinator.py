"""FindCoordinator specifics: only successful answers point at the proxy."""

from __future__ import annotations

from protocol.messages import find_coordinator
from protocol.patch.find_coordinator import patch_find_coordinator
from protocol.schema import decode, encode, new
from tests.unit.protocol.patch.oracle import FakeNodeMap

GROUP = {"Key": "orders", "NodeId": 7, "Host": "b7.real", "Port": 9092, "ErrorCode": 0, "ErrorMessage": None}
FAILED = {"Key": "audit", "NodeId": -1, "Host": "", "Port": -1, "ErrorCode": 15, "ErrorMessage": "not available"}


def test_batched_answers_rewrite_successes_and_keep_error_entries() -> None:
    body = encode(find_coordinator.RESPONSE, 4, new(find_coordinator.RESPONSE, 4, Coordinators=[GROUP, FAILED]))
    patched = decode(
        find_coordinator.RESPONSE, 4, patch_find_coordinator(memoryview(body), 4, FakeNodeMap("proxy", first=3))
    )
    found, failed = patched.Coordinators
    assert (found.Key, found.NodeId, found.Host, found.Port) == ("orders", 3, "proxy", 19003)
    assert failed == decode(find_coordinator.RESPONSE, 4, body).Coordinators[1]


def test_a_single_answer_with_an_error_is_returned_unchanged() -> None:
    msg = new(find_coordinator.RESPONSE, 2, ErrorCode=15, NodeId=-1, Host="", Port=-1)
    body = encode(find_coordinator.RESPONSE, 2, msg)
    assert patch_find_coordinator(memoryview(body), 2, FakeNodeMap("proxy")) == body


def test_a_single_successful_answer_points_at_the_proxy() -> None:
    body = encode(find_coordinator.RESPONSE, 0, new(find_coordinator.RESPONSE, 0, NodeId=12, Host="b12", Port=9092))
    patched = decode(find_coordinator.RESPONSE, 0, patch_find_coordinator(memoryview(body), 0, FakeNodeMap("px")))
    assert (patched.ErrorCode, patched.NodeId, patched.Host, patched.Port) == (0, 0, "px", 19000)
