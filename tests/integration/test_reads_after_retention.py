"""The switch's own reads of a partition whose oldest records are gone (retention, DeleteRecords).

Production topics have a log start offset above 0. Found by the suite in random order: a topic
whose records carried old timestamps lost them to time retention, and every later planned switch
aborted with `catch_up: Fetch <topic>-0 error 1` (OFFSET_OUT_OF_RANGE) from the proxy's own reads.
"""

from __future__ import annotations

import pytest
import uvloop
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from harness.cluster import KafkaCluster
from proxy.upstream.cluster_admin import ClusterAdmin
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration


def write(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for i in range(count):
        producer.produce(topic, f"r{i}".encode(), partition=0)
    assert producer.flush(30) == 0


def delete_before(bootstrap: str, topic: str, offset: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    futures = admin.delete_records([TopicPartition(topic, 0, offset)], request_timeout=30)
    for future in futures.values():
        future.result(30)


def test_reads_start_again_at_the_log_start_when_older_records_are_gone(
        cluster_a: KafkaCluster, new_topic: NewTopicFactory) -> None:
    topic = new_topic(cluster_a)
    write(cluster_a.bootstrap, topic, 30)
    delete_before(cluster_a.bootstrap, topic, 12)

    async def read() -> tuple[int, list[int], int]:
        admin = ClusterAdmin("A", list(cluster_a.nodes.values()))
        try:
            leader = (await admin.partitions())[(topic, 0)].leader
            records = await admin.committed_records((topic, 0), leader, 0, 30)
            return (await admin.log_start_offset((topic, 0), leader), [r.offset for r in records],
                    await admin.last_committed_data_offset((topic, 0), leader, 30))
        finally:
            await admin.close()

    log_start, offsets, last = uvloop.run(read())
    assert (log_start, offsets, last) == (12, list(range(12, 30)), 29)
