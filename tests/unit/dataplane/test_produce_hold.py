"""A switch's fenced Produce held unanswered: nothing reaches the broker, later answers wait behind it.

Holding (see `proxy.switch.machine.fencing`) keeps a producer from sleeping its retry backoff
across the flip; the flip's disconnect is what ends a hold. These play the core with the real
interceptor and fence, as test_connection does.
"""

from __future__ import annotations

import pytest

from proxy.dataplane.connection import (
    ClientClosed,
    ClientDataReceived,
    CloseConnection,
    SendClient,
    SendUpstream,
    UpstreamDataReceived,
)
from tests.unit.dataplane.test_connection import Proxy, list_offsets, produce_request, response


@pytest.fixture
def proxy() -> Proxy:
    proxy = Proxy()
    proxy.fence.fence(hold=True)
    return proxy


def test_a_held_produce_is_neither_forwarded_nor_answered(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1) + list_offsets(2))
            << SendUpstream([list_offsets(2)])
            >> UpstreamDataReceived(response(2, b"offsets")))  # nothing to the client: it waits behind 1
    assert proxy.core.queued == 2 and proxy.core.upstream_outstanding == 0
    assert proxy.core.outstanding(frozenset({0})) == 0  # the drain has nothing to wait for


def test_an_answer_waiting_behind_a_hold_is_copied_out_of_the_read_buffer(proxy: Proxy) -> None:
    read_buffer = bytearray(4096)
    answer = response(2, b"offsets")
    read_buffer[:len(answer)] = answer
    proxy.connected()
    proxy.core.handle(ClientDataReceived(produce_request(1) + list_offsets(2)))
    assert proxy.core.handle(UpstreamDataReceived(memoryview(read_buffer)[:len(answer)])) == []
    read_buffer[:] = b"\xff" * len(read_buffer)  # the next read overwrites it
    assert proxy.core.buffered_bytes >= len(answer)
    [entry] = [e for e in proxy.core._order._queue if e.api_key == 2]
    assert b"".join(entry.answer or []) == answer


def test_a_closed_connection_drops_its_holds_with_no_write_of_unknown_fate(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1) + produce_request(2))
            >> ClientClosed()
            << CloseConnection("client closed"))
    assert proxy.core.queued == 0 and proxy.core.buffered_bytes == 0


def test_an_operator_fence_answers_a_fenced_produce_at_once(proxy: Proxy) -> None:
    proxy.fence.unfence()
    proxy.fence.fence()
    playbook = proxy.connected() >> ClientDataReceived(produce_request(1)) << SendClient
    assert playbook
    assert proxy.core.queued == 0


def test_an_acks0_produce_is_still_swallowed_while_holding(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1, acks=0) + list_offsets(2))
            << SendUpstream([list_offsets(2)])
            >> UpstreamDataReceived(response(2, b"offsets"))
            << SendClient([response(2, b"offsets")]))
