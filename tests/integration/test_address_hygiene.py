"""Clients never learn a real broker: every byte they receive names only the virtual cluster.

A is three brokers (node ids 1, 2, 3) and B two (11, 12), so node ids, counts and ports all
differ. The client matrix runs through the proxy while a tap records every byte sent to clients;
no real port may follow a host name, no real cluster id may appear, and the virtual cluster the
clients see is the same whichever cluster is active.
"""

from __future__ import annotations

import dataclasses
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from harness.cluster import Cluster, ClusterSpec, start_clusters, wait_for_topic
from harness.proxy_thread import ProxyThread, proxy_config
from proxy.config import ProxyConfig
from tests.integration import clients

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def a3_b2() -> Iterator[tuple[Cluster, Cluster]]:
    a, b = start_clusters([ClusterSpec("A3", (1, 2, 3), {}), ClusterSpec("B2", (11, 12), {})])
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def start_tapped_proxy(config: ProxyConfig) -> tuple[ProxyThread, list[bytes]]:
    captured: list[bytes] = []
    proxy = ProxyThread(config).start()
    proxy.call(lambda: setattr(proxy.server.context, "client_tap", captured.append))
    return proxy, captured


def exercise(bootstrap: str, cluster: Cluster) -> Any:
    """The client matrix in small: admin, idempotent produce, group consume, kafka-python, aiokafka."""
    topic = f"hygiene-{uuid.uuid4().hex[:6]}"
    direct = AdminClient({"bootstrap.servers": cluster.bootstrap})
    direct.create_topics([NewTopic(topic, 6, 2)])[topic].result(30)
    wait_for_topic(cluster, topic)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.describe_topics(confluent_kafka.TopicCollection([topic]))[topic].result(30)
    sent = clients.values(topic, 60)
    assert clients.confluent_produce(bootstrap, topic, sent) == 60
    assert sorted(clients.confluent_consume(bootstrap, topic, f"g-{topic}", 60)) == sorted(sent)
    assert clients.kafka_python_produce(bootstrap, topic, sent[:10]) == 10
    assert clients.aiokafka_produce(bootstrap, topic, sent[:10]) == 10
    return admin.describe_cluster().result(30)


def real_addresses(*clusters: Cluster) -> list[bytes]:
    patterns = []
    for cluster in clusters:
        for host, port in cluster.nodes.values():
            patterns.append(host.encode() + struct.pack(">i", port))
    return patterns


def test_no_real_address_or_cluster_id_reaches_a_client(a3_b2: tuple[Cluster, Cluster]) -> None:
    a, b = a3_b2
    proxy, captured = start_tapped_proxy(proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A"))
    try:
        described = exercise(proxy.bootstrap, a)
    finally:
        proxy.stop()
    seen = b"".join(captured)
    assert len(seen) > 10_000, "the tap saw too little traffic to prove anything"
    for pattern in real_addresses(a, b):
        assert pattern not in seen, f"a real broker address leaked: {pattern!r}"
    for cluster in (a, b):
        assert cluster.cluster_id.encode() not in seen, f"real cluster id of {cluster.name} leaked"
    assert described.cluster_id == "kfp-test-virtual-cluster"
    assert sorted(n.id for n in described.nodes) == [0, 1, 2]
    assert all(n.port == proxy.config.broker_port(n.id) for n in described.nodes)


def test_the_virtual_cluster_is_the_same_with_either_cluster_active(a3_b2: tuple[Cluster, Cluster]) -> None:
    a, b = a3_b2
    config = proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A")
    views = {}
    for active, cluster in (("A", a), ("B", b)):
        proxy, _ = start_tapped_proxy(dataclasses.replace(config, active=active))
        try:
            described = exercise(proxy.bootstrap, cluster)
            views[active] = (described.cluster_id, {n.id: (n.host, n.port) for n in described.nodes})
        finally:
            proxy.stop()
    assert views["A"][0] == views["B"][0] == "kfp-test-virtual-cluster"
    assert sorted(views["B"][1]) == [0, 1]
    for node, address in views["B"][1].items():
        assert views["A"][1][node] == address, "a virtual node moved when the active cluster changed"
