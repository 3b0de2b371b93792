"""Where a virtual node's connection goes while its broker is dead, and once it is back."""

from __future__ import annotations

import asyncio

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.upstream.monitor import ClusterView, UpstreamMonitor

BROKERS = {1: ("10.0.0.1", 9092), 2: ("10.0.0.2", 9092), 3: ("10.0.0.3", 9092)}


def _context() -> ProxyContext:
    context = ProxyContext(proxy_config({"A": "10.0.0.1:9092"}, "A"), Metrics())
    _publish(context, BROKERS)
    return context


def _publish(context: ProxyContext, brokers: dict[int, tuple[str, int]]) -> None:
    context.monitors["A"]._publish(ClusterView("A", reachable=True, brokers=brokers))


def _host(context: ProxyContext, virtual_node: int) -> str:
    route = context.route(virtual_node)
    assert route is not None
    return route.host


def test_a_dead_brokers_slot_still_goes_to_that_broker_and_asks_for_a_fresh_view() -> None:
    context = _context()
    monitor = context.monitors["A"]
    _publish(context, {1: BROKERS[1], 3: BROKERS[3]})
    monitor._poked.clear()
    assert _host(context, 1) == "10.0.0.2"  # refused like a dead broker, never another broker's answers
    assert monitor._poked.is_set()


def test_a_slot_the_cluster_never_filled_goes_to_slot_n_mod_count() -> None:
    context = _context()
    context.virtual.slots_of("A")  # three brokers: slots 0-2 filled, slot 3 never
    assert _host(context, 3) == "10.0.0.1"


def test_a_broker_that_comes_back_gets_its_old_slot_again() -> None:
    context = _context()
    _publish(context, {1: BROKERS[1], 3: BROKERS[3]})
    _publish(context, BROKERS)
    assert [_host(context, slot) for slot in (0, 1, 2)] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert context.virtual.slots_of("A").slots() == {0: 1, 1: 2, 2: 3}


def test_a_burst_of_pokes_is_one_poll() -> None:
    async def scenario() -> int:
        monitor = UpstreamMonitor("A", [("10.0.0.1", 9092)], interval_s=60, poke_gap_s=0.05)
        polls = 0

        async def poll_once() -> ClusterView:
            nonlocal polls
            polls += 1
            return ClusterView("A", reachable=True, brokers=BROKERS)

        monitor.poll_once = poll_once  # type: ignore[method-assign]
        task = asyncio.create_task(monitor.run())
        await asyncio.sleep(0.01)
        for _ in range(20):
            monitor.poke()
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.2)
        task.cancel()
        return polls

    assert asyncio.run(scenario()) == 2
