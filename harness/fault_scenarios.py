"""Broker failures under compared load: the scenarios the tests and `bench.broker_faults` share.

Each scenario disturbs one 3-node cluster while every client library runs on both paths at once
(direct and through the proxy, `harness.workload_compare`). Tests judge correctness (nothing lost,
duplicated or left unconsumed on either path); the bench prints the pauses and holds them to the
target (through the proxy no more than 1 s longer than direct), because timings on a shared 2-core
machine belong in figures, not in assertions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka.admin import AdminClient

from harness import node_faults
from harness.cluster import Cluster
from harness.proxy_thread import ProxyThread
from harness.workload import LIBRARIES
from harness.workload_compare import Comparison, compared_load

SETTLE_S = 12.0
FAST_FENCING = {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}
PAUSE_SLACK_S = 1.0


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


def kill_and_wait(cluster: Cluster, victim: Callable[[], int]) -> Callable[[], None]:
    """Kill the node `victim` names once the load runs (the groups, and so their coordinator, exist)."""
    def disturb() -> None:
        node_faults.kill_node(cluster, victim())
        time.sleep(SETTLE_S)
    return disturb


def a_broker_killed(cluster: Cluster) -> Callable[[], None]:
    def not_the_coordinator() -> int:
        return next(n for n in (3, 2, 1) if n != coordinator_node(cluster))
    return kill_and_wait(cluster, not_the_coordinator)


def the_coordinator_killed(cluster: Cluster) -> Callable[[], None]:
    return kill_and_wait(cluster, lambda: coordinator_node(cluster))


def killed_and_restarted(cluster: Cluster, node_id: int = 2) -> Callable[[], None]:
    def disturb() -> None:
        kill_and_wait(cluster, lambda: node_id)()
        node_faults.start_node(cluster, node_id)
        time.sleep(SETTLE_S / 2)
    return disturb


def rolling_restart(cluster: Cluster) -> Callable[[], None]:
    def disturb() -> None:
        node_faults.rolling_restart(cluster)
    return disturb


def restore(cluster: Cluster) -> None:
    """Whatever a scenario killed is started again, so the next one finds three healthy nodes."""
    for node_id, process in [(n.node_id, n.process) for n in cluster._nodes]:
        if process is None or not process.alive():
            node_faults.start_node(cluster, node_id)
    node_faults.wait_fully_replicated(cluster)


def nothing_lost(comparison: Comparison) -> list[str]:
    """Every path that lost, duplicated, left unconsumed or never got acknowledged a record."""
    return [f"{r.library} {r.path}: lost {r.lost}, dup {r.duplicates}, unconsumed {r.unconsumed}, "
            f"unacked {r.unacked}" for r in comparison.results
            if (r.lost, r.duplicates, r.unconsumed, r.unacked) != (0, 0, 0, 0)]


def pauses(comparison: Comparison) -> dict[str, dict[str, float | bool]]:
    """Per library: the longest pause direct and through the proxy, and whether the target holds."""
    out: dict[str, dict[str, float | bool]] = {}
    for library in LIBRARIES:
        if library in comparison.no_control:
            continue
        direct, proxied = comparison.result(library, "direct"), comparison.result(library, "proxy")
        out[library] = {"direct_s": round(direct.pause_s, 2), "proxy_s": round(proxied.pause_s, 2),
                        "within_target": proxied.pause_s <= direct.pause_s + PAUSE_SLACK_S}
    return out
