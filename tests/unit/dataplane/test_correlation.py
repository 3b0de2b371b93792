"""Responses leave in request order, whoever answers them."""

from __future__ import annotations

import pytest

from protocol.errors import RemoteProtocolError
from proxy.dataplane.correlation import ResponseOrder


def test_a_local_answer_waits_behind_an_earlier_upstream_request() -> None:
    order = ResponseOrder()
    first = order.expect_upstream(1, 3, 12, 0)
    order.answer_locally(2, 18, 3, 0, [b"local"])
    assert order.release() == []
    assert order.upstream_outstanding == 1
    order.match_upstream(1).answer = [b"upstream"]
    released = order.release()
    assert [e.correlation_id for e in released] == [1, 2]
    assert released[0] is first
    assert len(order) == 0


def test_upstream_answers_must_come_in_forwarding_order() -> None:
    order = ResponseOrder()
    order.expect_upstream(5, 0, 9, 0)
    order.expect_upstream(6, 0, 9, 0)
    with pytest.raises(RemoteProtocolError):
        order.match_upstream(6)


def test_an_answer_with_nothing_outstanding_is_the_peers_fault() -> None:
    with pytest.raises(RemoteProtocolError):
        ResponseOrder().match_upstream(1)
