"""Backpressure in the relay stops reading and never drops: per connection, and across all of them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from harness.proxy_thread import proxy_config
from proxy.config import LimitsConfig
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.relay import ClientConnection
from proxy.metrics import Metrics

CAP = 1 << 20


class Transport:
    """What the relay asks of a transport for backpressure."""

    def __init__(self) -> None:
        self.reading = True
        self.unsent = 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return False


def proxy() -> ProxyContext:
    config = replace(proxy_config({"A": "127.0.0.1:1"}, "A"), limits=LimitsConfig(max_buffered_bytes=CAP))
    return ProxyContext(config, Metrics(clusters=["A"]))


def client(context: ProxyContext) -> tuple[ClientConnection, Transport]:
    connection, transport = ClientConnection(context, None), Transport()
    connection.transport = connection._reading.transport = transport  # type: ignore[assignment]
    context.clients.add(connection)
    return connection, transport


def test_a_client_not_reading_its_answers_is_not_read_either_until_it_catches_up() -> None:
    connection, transport = client(proxy())
    connection.pause_writing()  # e.g. local answers piling up
    assert not transport.reading
    connection.pause_for_budget()
    connection.resume_writing()
    assert not transport.reading  # still over budget: one reason left
    connection.resume_for_budget()
    assert transport.reading


def test_connections_over_the_global_cap_together_all_stop_reading_until_three_quarters() -> None:
    async def scenario() -> list[Any]:
        context = proxy()
        clients = [client(context) for _ in range(3)]
        for connection, transport in clients:
            transport.unsent = 400 * 1024  # each well within its own high-water mark
            connection.account()
        paused = [t.reading for _, t in clients]
        for _, transport in clients:
            transport.unsent = 200 * 1024  # drained with no callback: only the re-count sees it
        await asyncio.sleep(0.2)
        return [paused, [t.reading for _, t in clients], context.budget.over]

    assert asyncio.run(scenario()) == [[False, False, False], [True, True, True], False]


def test_a_closed_connection_gives_its_share_back() -> None:
    context = proxy()
    connection, transport = client(context)
    transport.unsent = 1000
    connection.account()
    assert context.budget.total == 1000
    context.unregister(connection)
    assert (context.budget.total, len(context.budget)) == (0, 0)
