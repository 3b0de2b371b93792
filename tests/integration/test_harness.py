"""The harness against real brokers: clients work directly on A, MM2 keeps names and offsets,
the Java tools report figures, multi-node clusters carry the chosen node ids, nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import aiokafka
import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import AdminClient

from harness import processes, tools
from harness.cluster import ClusterSpec, KafkaCluster, start_clusters
from harness.mirror import Mirror, committed_offsets, wait_for_group_offsets, wait_for_records

pytestmark = pytest.mark.integration

RECORDS = [f"record-{i}".encode() for i in range(20)]


def group_name() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def confluent_produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0


def confluent_consume(bootstrap: str, topic: str, group: str, count: int, commit: bool = True) -> list[Any]:
    """Read `count` records with a group consumer; commit synchronously after the last one."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                messages.append(message)
        if commit and messages:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return messages


def test_confluent_kafka_produces_and_consumes_with_a_group(cluster_a: KafkaCluster, new_topic: Any) -> None:
    topic, group = new_topic(cluster_a, 2), group_name()
    confluent_produce(cluster_a.bootstrap, topic, RECORDS)
    messages = confluent_consume(cluster_a.bootstrap, topic, group, len(RECORDS))
    assert sorted(m.value() for m in messages) == sorted(RECORDS)
    committed = committed_offsets(cluster_a.bootstrap, group)
    assert sum(committed.values()) == len(RECORDS)


def test_kafka_python_produces_and_consumes_with_a_group(cluster_a: KafkaCluster, new_topic: Any) -> None:
    topic, group = new_topic(cluster_a), group_name()
    producer = kafka.KafkaProducer(bootstrap_servers=cluster_a.bootstrap, acks="all")
    for value in RECORDS:
        producer.send(topic, value)
    producer.flush(30)
    producer.close()
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=cluster_a.bootstrap, group_id=group,
                                   auto_offset_reset="earliest", enable_auto_commit=False,
                                   consumer_timeout_ms=30_000)
    values = [record.value for _, record in zip(RECORDS, consumer, strict=False)]
    consumer.commit()
    consumer.close()
    assert values == RECORDS
    assert committed_offsets(cluster_a.bootstrap, group) == {(topic, 0): len(RECORDS)}


async def aiokafka_round_trip(bootstrap: str, topic: str, group: str) -> list[bytes]:
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in RECORDS:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                         auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        values = [(await asyncio.wait_for(consumer.getone(), 30)).value for _ in RECORDS]
        await consumer.commit()
    finally:
        await consumer.stop()
    return [value for value in values if value is not None]


def test_aiokafka_produces_and_consumes_with_a_group(cluster_a: KafkaCluster, new_topic: Any) -> None:
    topic, group = new_topic(cluster_a), group_name()
    values = asyncio.run(aiokafka_round_trip(cluster_a.bootstrap, topic, group))
    assert values == RECORDS
    assert committed_offsets(cluster_a.bootstrap, group) == {(topic, 0): len(RECORDS)}


def test_mirror_copies_a_topic_with_its_name_and_translates_group_offsets(
    cluster_a: KafkaCluster, cluster_b: KafkaCluster, mirror_ab: Mirror, new_topic: Any
) -> None:
    """Exact translation needs a caught-up group (a lagging one may re-read, never skip)."""
    topic, group = new_topic(cluster_a), group_name()
    confluent_produce(cluster_a.bootstrap, topic, RECORDS[:7])
    seconds = wait_for_records(cluster_b.bootstrap, topic, 7, timeout_s=120)
    print(f"MM2 copied the first 7 records in {seconds:.1f} s")
    on_a = confluent_consume(cluster_a.bootstrap, topic, group, 7)  # commits offset 7 = log end
    assert [m.value() for m in on_a] == RECORDS[:7]
    seconds = wait_for_group_offsets(cluster_b.bootstrap, group, {(topic, 0): 7}, timeout_s=60)
    print(f"MM2 synced the group offset in {seconds:.1f} s")
    assert committed_offsets(cluster_b.bootstrap, group) == {(topic, 0): 7}
    confluent_produce(cluster_a.bootstrap, topic, RECORDS[7:])
    wait_for_records(cluster_b.bootstrap, topic, len(RECORDS), timeout_s=120)
    on_b = confluent_consume(cluster_b.bootstrap, topic, group, len(RECORDS) - 7, commit=False)
    assert [m.value() for m in on_b] == RECORDS[7:]


def test_java_perf_tools_run_against_a_and_report_figures(cluster_a: KafkaCluster) -> None:
    topic, group = f"perf-{uuid.uuid4().hex[:8]}", group_name()
    described = tools.create_topic(cluster_a.bootstrap, topic, partitions=3)
    assert [p.partition for p in described.partitions] == [0, 1, 2]
    produced = tools.producer_performance(cluster_a.bootstrap, topic, num_records=20_000, record_size=100)
    assert produced.records == 20_000 and produced.records_per_sec > 0 and produced.mb_per_sec > 0
    assert 0 <= produced.p50_ms <= produced.p99_ms <= produced.max_latency_ms
    consumed = tools.consumer_performance(cluster_a.bootstrap, topic, num_records=20_000, group=group)
    assert consumed.records == 20_000 and consumed.mb_sec > 0 and consumed.data_consumed_mb > 0
    rows = tools.describe_group(cluster_a.bootstrap, group)
    assert sum(row.current_offset or 0 for row in rows) == 20_000
    assert all(row.lag == 0 for row in rows)


@pytest.mark.parametrize("which, node_ids", [("cluster_a", {1, 2, 3}), ("cluster_b", {11, 12})])
def test_multi_node_clusters_list_every_broker_with_its_node_id(
    which: str, node_ids: set[int], request: pytest.FixtureRequest, new_topic: Any
) -> None:
    cluster: KafkaCluster = request.getfixturevalue(which)
    topic = new_topic(cluster, 4, len(node_ids))  # replicated on every node, visible on every node
    metadata = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=10)
    assert set(metadata.brokers) == node_ids == set(cluster.nodes)
    assert {b.id: (str(b.host), b.port) for b in metadata.brokers.values()} == cluster.nodes
    assert metadata.cluster_id == cluster.cluster_id
    assert all(set(p.replicas) == node_ids for p in metadata.topics[topic].partitions.values())


def test_the_pair_has_its_own_node_ids_and_cluster_ids_and_spreads_leaders(
    cluster_a: KafkaCluster, cluster_b: KafkaCluster, new_topic: Any
) -> None:
    """The production shape the switch tests run on: a 6-partition, RF 2 topic leads on every node of A."""
    topic = new_topic(cluster_a, 6, 2)
    metadata = AdminClient({"bootstrap.servers": cluster_a.bootstrap}).list_topics(timeout=10)
    partitions = metadata.topics[topic].partitions
    assert set(cluster_a.nodes).isdisjoint(cluster_b.nodes)
    assert cluster_a.cluster_id != cluster_b.cluster_id
    assert "-" not in cluster_a.cluster_id and len(cluster_a.cluster_id) == 22
    assert {p.leader for p in partitions.values()} == {1, 2, 3}
    assert all(len(p.replicas) == 2 for p in partitions.values())


def test_stop_and_kill_leave_no_process_behind(kafka_jars: Any) -> None:
    stopped, killed = start_clusters([ClusterSpec("stop-me", (7,)), ClusterSpec("kill-me", (8,))])
    pids = stopped.pids + killed.pids
    assert set(pids) <= set(processes.live_pids())
    stopped.stop()
    killed.kill()
    assert not set(pids) & set(processes.live_pids())
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not stopped.workdir.exists() and not killed.workdir.exists()
