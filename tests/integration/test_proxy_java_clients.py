"""The Java client (through Kafka's own tools) works through the proxy as it does against a broker."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from harness import tools

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_topic_command_creates_and_describes_with_virtual_node_ids(proxy_ab: Any, cluster_a: Any) -> None:
    """A's brokers are real nodes 1, 2, 3; through the proxy they are virtual nodes 0, 1, 2."""
    virtual = set(range(len(cluster_a.nodes)))
    topic = unique("java-topic")
    tools.create_topic(proxy_ab.bootstrap, topic, partitions=len(virtual))
    described = tools.describe_topic(proxy_ab.bootstrap, topic)
    assert described.partition_count == len(virtual)
    assert {p.leader for p in described.partitions} == virtual  # one leader per broker, never a real id
    assert all(set(p.replicas) <= virtual and set(p.isr) <= virtual for p in described.partitions)


def test_producer_and_consumer_performance_and_group_describe(proxy_ab: Any) -> None:
    topic = unique("java-perf")
    tools.create_topic(proxy_ab.bootstrap, topic, partitions=3)
    produced = tools.producer_performance(proxy_ab.bootstrap, topic, 20_000, record_size=512,
                                          properties={"acks": "all"})
    assert produced.records == 20_000 and produced.mb_per_sec > 0
    group = unique("java-group")
    consumed = tools.consumer_performance(proxy_ab.bootstrap, topic, 20_000, group=group)
    assert consumed.records == 20_000
    rows = tools.describe_group(proxy_ab.bootstrap, group)
    assert {r.partition for r in rows} == {0, 1, 2}
    assert sum(r.current_offset or 0 for r in rows) == 20_000
    assert all(r.lag == 0 for r in rows)


def test_java_consumer_with_the_kip848_group_protocol(proxy_ab: Any, tmp_path: Path) -> None:
    topic = unique("java-848")
    tools.create_topic(proxy_ab.bootstrap, topic, partitions=2)
    tools.producer_performance(proxy_ab.bootstrap, topic, 5_000, record_size=100)
    config = tmp_path / "consumer.properties"
    config.write_text("group.protocol=consumer\n")
    result = tools.run_tool(tools.CONSUMER_PERFORMANCE, [
        "--bootstrap-server", proxy_ab.bootstrap, "--topic", topic, "--num-records", "5000",
        "--group", unique("g848"), "--timeout", "60000", "--command-config", str(config)])
    assert tools.parse_consumer_performance(result.stdout).records == 5_000
