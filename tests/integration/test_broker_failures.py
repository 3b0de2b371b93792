"""A broker of the active cluster fails under load: through the proxy it looks as it does direct.

Issue 15: with one broker SIGKILLed, a consumer behind the proxy silently stopped receiving the
partitions whose leader moved. Each test runs every client library on both paths at once (same
cluster, same failure, a topic per library and path; see `harness.workload_compare`) and requires
of every path: every record sent acknowledged, none lost or duplicated, every one consumed, and
through the proxy no pause more than 1 s longer than direct.

The module owns its 3-node cluster (a kill must not break other tests' clusters), with a short
broker session timeout so a dead broker is fenced, and its leaders move, in about 3 s instead of 9.
Every test leaves all three nodes running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from harness import node_faults
from harness.cluster import Cluster, start_cluster
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import LIBRARIES
from harness.workload_compare import Comparison, compared_load
from protocol.messages import metadata
from proxy.upstream.kafka_client import KafkaClientError, KafkaConnection

pytestmark = pytest.mark.integration

PAUSE_SLACK_S = 1.0
SETTLE_S = 12.0
FAST_FENCING = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}


@pytest.fixture(scope="module")
def failing_cluster(kafka_jars: object) -> Iterator[Cluster]:
    cluster = start_cluster("F3", (1, 2, 3), FAST_FENCING)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def proxy(failing_cluster: Cluster) -> Iterator[ProxyThread]:
    running = ProxyThread(proxy_config({"A": failing_cluster.bootstrap}, "A")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def all_nodes_back(failing_cluster: Cluster) -> Iterator[None]:
    """Whatever a test killed is started again, so the next test finds three healthy nodes."""
    yield
    for node_id, process in [(n.node_id, n.process) for n in failing_cluster._nodes]:
        if process is None or not process.alive():
            node_faults.start_node(failing_cluster, node_id)
    node_faults.wait_fully_replicated(failing_cluster)


def coordinator_node(cluster: Cluster) -> int:
    """The broker leading __consumer_offsets' only partition: every group's coordinator."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 2})
    topic = admin.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
    return int(topic.partitions[0].leader)


def run_compared(cluster: Cluster, proxy: ProxyThread, disturb: Callable[[], None]) -> Comparison:
    bootstraps = {"direct": cluster.bootstrap, "proxy": proxy.bootstrap}
    with compared_load(cluster, bootstraps, LIBRARIES) as comparison:
        disturb()
    print(comparison.summary())
    return comparison


def assert_proxy_as_good_as_direct(comparison: Comparison) -> None:
    summary = comparison.summary()
    for result in comparison.results:
        assert (result.lost, result.duplicates, result.unconsumed, result.unacked) == (0, 0, 0, 0), summary
    for library in LIBRARIES:
        direct, proxied = comparison.result(library, "direct"), comparison.result(library, "proxy")
        assert proxied.pause_s <= direct.pause_s + PAUSE_SLACK_S, summary


def kill_and_wait(cluster: Cluster, victim: Callable[[], int]) -> Callable[[], None]:
    """Kill the node `victim` names once the load runs (the groups, and so their coordinator, exist)."""
    def disturb() -> None:
        node_faults.kill_node(cluster, victim())
        time.sleep(SETTLE_S)
    return disturb


@pytest.mark.usefixtures("all_nodes_back")
def test_a_broker_killed_under_load(failing_cluster: Cluster, proxy: ProxyThread) -> None:
    def not_the_coordinator() -> int:
        return next(n for n in (3, 2, 1) if n != coordinator_node(failing_cluster))

    comparison = run_compared(failing_cluster, proxy, kill_and_wait(failing_cluster, not_the_coordinator))
    assert_proxy_as_good_as_direct(comparison)


@pytest.mark.usefixtures("all_nodes_back")
def test_the_group_coordinators_broker_killed(failing_cluster: Cluster, proxy: ProxyThread) -> None:
    comparison = run_compared(failing_cluster, proxy,
                              kill_and_wait(failing_cluster, lambda: coordinator_node(failing_cluster)))
    assert_proxy_as_good_as_direct(comparison)


@pytest.mark.usefixtures("all_nodes_back")
def test_a_broker_killed_and_restarted_keeps_its_virtual_slot(failing_cluster: Cluster, proxy: ProxyThread) -> None:
    slots_before = proxy.call(lambda: proxy.server.context.virtual.slots_of("A").slots())

    def kill_and_restart() -> None:
        kill_and_wait(failing_cluster, lambda: 2)()
        node_faults.start_node(failing_cluster, 2)
        time.sleep(SETTLE_S / 2)

    assert_proxy_as_good_as_direct(run_compared(failing_cluster, proxy, kill_and_restart))
    assert proxy.call(lambda: proxy.server.context.virtual.slots_of("A").slots()) == slots_before


@pytest.mark.usefixtures("all_nodes_back")
def test_a_rolling_restart_under_load(failing_cluster: Cluster, proxy: ProxyThread) -> None:
    assert_proxy_as_good_as_direct(
        run_compared(failing_cluster, proxy, lambda: node_faults.rolling_restart(failing_cluster)))


# -- a broker that accepts connections but answers nothing (SIGSTOP) ----------------------------------


async def _metadata_answered_within(host: str, port: int, timeout_s: float) -> bool:
    """One Metadata request on a new connection: answered in time (True) or timed out (False)."""
    try:
        conn = await KafkaConnection.open(host, port, client_id="kfp-stall-test", timeout_s=timeout_s)
    except KafkaClientError:
        return False
    try:
        await conn.request(metadata, 9, {"Topics": [], "AllowAutoTopicCreation": False}, timeout_s=timeout_s)
        return True
    except KafkaClientError:
        return False
    finally:
        await conn.close()


async def _stalled_and_live(proxy: ProxyThread, direct: dict[int, tuple[str, int]], stalled: int
                            ) -> dict[str, bool]:
    """Ask the stalled broker and every live one at once, direct and through the proxy's slots."""
    host, base = proxy.config.listeners.advertised_host, proxy.config.listeners.broker_port_base
    slot = {real: index for index, real in enumerate(sorted(direct))}  # slots in ascending real id
    checks = {f"{path} {'stalled' if node == stalled else 'live'} {node}":
              _metadata_answered_within(*(direct[node] if path == "direct" else (host, base + slot[node])), 3.0)
              for node in direct for path in ("direct", "proxy")}
    return dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))


@pytest.mark.usefixtures("all_nodes_back")
def test_a_stalled_broker_stalls_only_its_own_connections(failing_cluster: Cluster, proxy: ProxyThread) -> None:
    stalled = 3
    node_faults.pause_node(failing_cluster, stalled)
    try:
        answered = asyncio.run(_stalled_and_live(proxy, failing_cluster.nodes, stalled))
    finally:
        node_faults.resume_node(failing_cluster, stalled)
    assert answered == {name: "live" in name for name in answered}
