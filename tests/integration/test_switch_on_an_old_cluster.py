"""A planned switch on a cluster with a history: quiet topics, stopped groups, a dead producer.

Production clusters are full of topics that were written once and went quiet, groups that stopped
long ago, a transactional producer that died mid-transaction, a topic created a moment before the
switch and one deleted on A but still on B. None of it may make a planned switch wait for traffic
that never comes, and none of it may cost the live clients a record. This module runs one such
switch on a pair of its own (it leaves 50 topics and MM2 state behind that other tests need not see).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness import processes, workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.mirror import Mirror, committed_offsets, start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, running_proxy
from harness.workload import SwitchRun, wait_until
from harness.workload_verify import verify

pytestmark = pytest.mark.integration

QUIET_TOPICS = 48
WRITTEN_ONCE = 20  # records per quiet topic, in one burst
STOPPED_GROUPS = {0: 7, 1: 13, 2: 20, 3: 0}  # quiet topic index -> where its group stopped long ago
RATE = 150.0
DEAD_PRODUCER = """
import sys, confluent_kafka
producer = confluent_kafka.Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[2],
                                     "transaction.timeout.ms": 900000})
producer.init_transactions(30)
producer.begin_transaction()
producer.produce(sys.argv[3], b"never-committed")
producer.flush(30)
print("open", flush=True)
input()
"""


@dataclass
class OldPair:
    a: Cluster
    b: Cluster
    mirror: Mirror
    quiet: list[str]


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})


def _create(bootstrap: str, names: list[str], partitions: int = 2) -> None:
    admin = _admin(bootstrap)  # referenced until every future resolved: a destroyed handle fails them
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(60)


def _write_once(bootstrap: str, names: list[str], count: int) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for name in names:
        for i in range(count):
            producer.produce(name, f"{name}-{i}".encode(), key=str(i % 2).encode(), partition=0)
    assert producer.flush(60) == 0


def _stop_group_at(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """A group that consumed up to `offset` of partition 0 and stopped: only its commit is left."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3,
                                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def old_pair(kafka_jars: Any) -> Iterator[OldPair]:
    a, b = start_clusters([ClusterSpec("A", (1,)), ClusterSpec("B", (1,))])
    mirror: Mirror | None = None
    try:
        quiet = [f"quiet-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(QUIET_TOPICS)]
        _create(a.bootstrap, quiet)
        _write_once(a.bootstrap, quiet, WRITTEN_ONCE)
        for index, offset in STOPPED_GROUPS.items():
            _stop_group_at(a.bootstrap, f"stopped-{index}", quiet[index], offset)
        mirror = start_mirror(a, b)
        for name in quiet:
            wait_for_records(b.bootstrap, name, WRITTEN_ONCE)
        yield OldPair(a, b, mirror, quiet)
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])


@pytest.fixture
def dead_transaction(old_pair: OldPair) -> Iterator[str]:
    """A transactional producer that opened a transaction on A and died (SIGKILL) before ending it."""
    transactional_id = f"dead-{uuid.uuid4().hex[:6]}"
    workdir = processes.make_workdir("dead-producer")
    process = processes.spawn("dead-producer", [sys.executable, "-c", DEAD_PRODUCER, old_pair.a.bootstrap,
                                                transactional_id, old_pair.quiet[-1]],
                              workdir / "out.log", owned_dir=workdir)
    try:
        wait_until(lambda: "open" in process.log_tail(5), 60, lambda: process.log_tail(20))
        processes.kill_many([process])
        yield transactional_id
    finally:
        processes.kill_many([process])


def _switch_aborting_the_dead_transaction(proxy: ProxyThread, transactional_id: str) -> SwitchRun:
    """Start a planned switch; when its transactions gate names the dead producer, abort that
    transaction through the proxy's own audited action, then wait for the outcome."""
    control = proxy.server.control
    called_at = time.time()
    switch_id = proxy.call(lambda: control.start_switch("B", "planned", False, 120.0))

    def record() -> dict[str, Any]:
        found = proxy.call(lambda: control.switch_record(switch_id))
        assert found is not None
        return found

    def named() -> bool:
        gate = record()["evidence"]["gates"]["transactions"]
        return gate["status"] == "waiting" and transactional_id in gate["detail"]

    wait_until(named, 60, lambda: f"transactions gate never named {transactional_id}: {record()}")
    proxy.run(control.abort_transaction("A", transactional_id))
    wait_until(lambda: record()["final"], 150, lambda: f"switch not final: {record()['phase']}")
    final = record()
    phases = {p["phase"]: p["duration_ms"] for p in final["phases"] if p["duration_ms"] is not None}
    return SwitchRun(switch_id, final, called_at, phases)


def test_a_planned_switch_on_an_old_busy_cluster_needs_no_traffic_and_loses_nothing(
        old_pair: OldPair, dead_transaction: str) -> None:
    a, b = old_pair.a, old_pair.b
    deleted = f"deleted-{uuid.uuid4().hex[:6]}"
    _create(a.bootstrap, [deleted])
    _write_once(a.bootstrap, [deleted], 5)
    wait_for_records(b.bootstrap, deleted, 5)
    admin = _admin(a.bootstrap)
    admin.delete_topics([deleted])[deleted].result(60)  # gone on A, still on B
    active = [f"active-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
    _create(a.bootstrap, active, partitions=3)
    with running_proxy({"A": a.bootstrap, "B": b.bootstrap}, "A", mirrors=[{"source": "A", "target": "B"}]) \
            as proxy:
        producers = [workload.producer("confluent", proxy.bootstrap, t, rate=RATE) for t in active]
        consumers = [workload.consumer("confluent", proxy.bootstrap, t, f"g-{t}", session_timeout_ms=6000)
                     for t in active]
        for worker in (*consumers, *producers):
            worker.start()
        try:
            for producer in producers:
                producer.wait_acked(300, 120)
            fresh = f"fresh-{uuid.uuid4().hex[:6]}"  # created on A a moment before the switch
            _create(a.bootstrap, [fresh])
            _write_once(a.bootstrap, [fresh], 5)
            run = _switch_aborting_the_dead_transaction(proxy, dead_transaction)
            for producer in producers:
                producer.wait_acked(len(producer.acks) + 300, 120)
        finally:
            for producer in producers:
                producer.stop()
        try:
            for producer, consumer in zip(producers, consumers, strict=True):
                consumer.wait_consumed(producer.acked_values, 120)
        finally:
            for consumer in consumers:
                consumer.stop()
    assert run.outcome == "succeeded", run.record["reason"]
    for topic, producer, consumer in zip(active, producers, consumers, strict=True):
        verdict = verify(b.bootstrap, topic, [producer], [consumer], run)
        produced, consumed = verdict.producers[0], verdict.consumers[0]
        assert (produced.lost, produced.duplicates, produced.fatal) == (0, 0, None), produced.lost_sample
        assert (consumed.unconsumed, consumed.offset_resets, consumed.replayed) == (0, 0, 0), consumed.resets
    for index, offset in STOPPED_GROUPS.items():  # quiet topics are copied offset for offset
        on_b = committed_offsets(b.bootstrap, f"stopped-{index}")
        assert on_b.get((old_pair.quiet[index], 0)) == offset
    checks = {(c["group"], c["topic"], c["partition"]): c
              for c in run.record["evidence"]["group_offsets"]["partitions"]}
    for index, offset in STOPPED_GROUPS.items():  # proven by comparing records: no sync needed
        check = checks[(f"stopped-{index}", old_pair.quiet[index], 0)]
        assert (check["expected"], check["exact"], check["status"]) == (offset, True, "ok")
    wait_for_records(b.bootstrap, fresh, 5)
