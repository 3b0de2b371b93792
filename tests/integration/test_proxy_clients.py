"""The client matrix: every client library works through the proxy as it does against a broker."""

from __future__ import annotations

import time
import uuid
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from harness.cluster import wait_for_topic
from tests.integration import clients

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def described_once_known(admin: AdminClient, name: str, timeout_s: float = 30) -> Any:
    """DescribeTopics until every broker knows the new topic: CreateTopics is answered once the
    controller has it, and a broker of a multi-node cluster may still answer UNKNOWN_TOPIC_OR_PART."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return admin.describe_topics(confluent_kafka.TopicCollection([name]))[name].result(30)
        except confluent_kafka.KafkaException as exc:
            if exc.args[0].code() != confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_confluent_admin_creates_describes_and_deletes_topics_through_the_proxy(proxy_ab: Any) -> None:
    admin = AdminClient({"bootstrap.servers": proxy_ab.bootstrap})
    name = unique("admin")
    admin.create_topics([NewTopic(name, 4, 1)])[name].result(30)
    described = described_once_known(admin, name)
    assert len(described.partitions) == 4
    assert all(p.leader.port == proxy_ab.config.broker_port(p.leader.id) for p in described.partitions)
    cluster = admin.describe_cluster().result(30)
    assert cluster.cluster_id == "kfp-test-virtual-cluster"
    assert [n.port for n in cluster.nodes] == [proxy_ab.config.broker_port(n.id) for n in cluster.nodes]
    admin.delete_topics([name])[name].result(30)
    deadline = time.monotonic() + 30
    while name in admin.list_topics(timeout=30).topics and time.monotonic() < deadline:
        time.sleep(0.5)  # deletion reaches metadata asynchronously
    assert name not in admin.list_topics(timeout=30).topics


def test_confluent_idempotent_producer_and_group_consumer(proxy_ab: Any) -> None:
    topic = unique("confluent")
    create_topic(proxy_ab.bootstrap, topic)
    sent = clients.values(topic, 300)
    assert clients.confluent_produce(proxy_ab.bootstrap, topic, sent) == 300
    group = unique("g")
    received = clients.confluent_consume(proxy_ab.bootstrap, topic, group, 300)
    assert sorted(received) == sorted(sent)
    committed = clients.confluent_committed(proxy_ab.bootstrap, topic, group, 3)
    assert sum(o for o in committed.values() if o >= 0) == 300


def test_confluent_consumer_with_the_kip848_group_protocol(proxy_ab: Any) -> None:
    topic = unique("kip848")
    create_topic(proxy_ab.bootstrap, topic)
    sent = clients.values(topic, 100)
    clients.confluent_produce(proxy_ab.bootstrap, topic, sent)
    received = clients.confluent_consume(proxy_ab.bootstrap, topic, unique("g848"), 100,
                                         **{"group.protocol": "consumer"})
    assert sorted(received) == sorted(sent)


def test_confluent_transactions_commit_and_abort_under_read_committed(proxy_ab: Any) -> None:
    topic = unique("txn")
    create_topic(proxy_ab.bootstrap, topic, 1)
    producer = confluent_kafka.Producer({"bootstrap.servers": proxy_ab.bootstrap,
                                         "transactional.id": unique("tx")})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, b"committed")
    producer.commit_transaction(30)
    received = clients.confluent_consume(proxy_ab.bootstrap, topic, unique("g"), 1, timeout_s=20,
                                         **{"isolation.level": "read_committed"})
    assert received == [b"committed"]


def test_kafka_python_producer_consumer_and_admin(proxy_ab: Any) -> None:
    import kafka.admin

    topic = unique("kpy")
    admin = kafka.admin.KafkaAdminClient(bootstrap_servers=proxy_ab.bootstrap)
    try:
        admin.create_topics([kafka.admin.NewTopic(topic, 2, 1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()
    sent = clients.values(topic, 200)
    assert clients.kafka_python_produce(proxy_ab.bootstrap, topic, sent) == 200
    received = clients.kafka_python_consume(proxy_ab.bootstrap, topic, unique("g"), 200)
    assert sorted(received) == sorted(sent)


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_kafka_python_consumer_worker_joins_only_once_it_knows_its_topic(proxy_ab: Any, cluster_a: Any,
                                                                          assignor: str) -> None:
    """The topic appears a second after the harness's kafka-python consumer started: it must not
    join before its own metadata lists the topic. Joining earlier gets an empty assignment, and
    kafka-python 3.0.12 may never complete the rejoin that follows: the drill's consumers that
    consumed nothing (see `KafkaPythonConsumer._know_partitions`)."""
    from harness import workload

    topic = unique("kpy-late")
    worker = workload.consumer("kafka-python", proxy_ab.bootstrap, topic, unique("g"), assignor=assignor).start()
    try:
        time.sleep(1)
        admin = AdminClient({"bootstrap.servers": cluster_a.bootstrap})
        admin.create_topics([NewTopic(topic, 6, 2)])[topic].result(30)  # the worker never auto-creates it
        wait_for_topic(cluster_a, topic)
        workload.wait_until(lambda: bool(worker.assignments) and len(worker.assignments[-1].partitions) == 6, 60,
                            lambda: f"assignments {worker.assignments}; {worker.diagnostics[-4:]}")
    finally:
        worker.stop()
    empty = [line for line in worker.diagnostics if any(
        sign in line for sign in ("No partition metadata", "newly assigned partitions set()", "assigned=set()"))]
    assert empty == []
    assert worker.errors == []


def test_aiokafka_producer_consumer_and_transactions(proxy_ab: Any) -> None:
    topic = unique("aio")
    create_topic(proxy_ab.bootstrap, topic, 2)
    sent = clients.values(topic, 100)
    assert clients.aiokafka_produce(proxy_ab.bootstrap, topic, sent) == 100
    txn_values = clients.values(f"{topic}-txn", 10)
    assert clients.aiokafka_produce(proxy_ab.bootstrap, topic, txn_values, transactional_id=unique("atx")) == 10
    received = clients.aiokafka_consume(proxy_ab.bootstrap, topic, unique("g"), 110,
                                        isolation_level="read_committed")
    assert sorted(received) == sorted(sent + txn_values)
