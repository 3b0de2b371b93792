"""Batches of every codec as real producers write them, read back by the proxy's own record reader.

The unit tests' batch builder only imitates producers; here a Kafka 4.4 broker holds what librdkafka
(confluent-kafka) and the Java client (ConsoleProducer) compress, which is the ground truth: the Java
client wraps snappy in xerial's framing, librdkafka writes it raw. `ClusterAdmin` reads the records
back as the switch does, and every record must keep its key, value, headers and timestamp.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import uvloop
from confluent_kafka import Producer

from harness import tools
from harness.cluster import KafkaCluster
from protocol.compression import XERIAL_MAGIC
from protocol.record_batch import HEADER_SIZE, RecordBatchHeader, iter_batches
from protocol.records import Record, RecordHeaders
from proxy.upstream.cluster_admin import ClusterAdmin
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration

CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
COUNT = 300
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class Sent:
    key: bytes | None
    value: bytes | None
    headers: RecordHeaders


@dataclass(frozen=True)
class ReadBack:
    records: list[tuple[RecordBatchHeader, Record]]
    read_all: list[tuple[int, bytes | None, bytes | None]]
    bodies: list[bytes]  # the compressed records section of each batch in the first Fetch


def sent(codec: str) -> list[Sent]:
    """Keys, values and headers with nulls and sizes enough for several xerial blocks per batch."""
    out = []
    for i in range(COUNT):
        key = None if i % 10 == 3 else f"{codec}-key-{i}".encode()
        value = None if i % 10 == 7 else (f"{codec}-value-{i}-" + "payload " * (i % 40)).encode()
        headers: RecordHeaders = (("seq", str(i).encode()), ("codec", codec.encode()))
        out.append(Sent(key, value, (*headers, ("maybe", None)) if i % 2 else headers))
    return out


def console_line(record: Sent) -> str:
    def text(data: bytes | None) -> str:
        return tools.NULL_MARKER if data is None else data.decode()

    headers = ",".join(f"{name}:{text(value)}" for name, value in record.headers)
    return f"{headers}\t{text(record.key)}\t{text(record.value)}"


def read_back(cluster: KafkaCluster, topic: str) -> ReadBack:
    async def read() -> ReadBack:
        admin = ClusterAdmin("A", list(cluster.nodes.values()))  # any node bootstraps, on A of 3 nodes too
        try:
            tp = (topic, 0)
            info = (await admin.partitions())[tp]
            end = (await admin.end_offsets({tp: info}))[tp]
            blob = await admin.read_partition(tp, info.leader, 0)
            return ReadBack(await admin.read_records(tp, info.leader, 0, end),
                            await admin.read_all(tp, info.leader, end),
                            [blob[at + HEADER_SIZE:at + header.size] for at, header in iter_batches(blob)])
        finally:
            await admin.close()

    return uvloop.run(read())


def assert_same_records(back: ReadBack, expected: list[Sent], codec: str, small_batches_plain: bool = False
                        ) -> None:
    """`small_batches_plain`: librdkafka sends a batch uncompressed when the codec would not shrink it
    (a one-record batch of a few bytes), so there the codec must appear and the rest be plain."""
    codecs = {header.compression for header, _ in back.records}
    if small_batches_plain:
        assert CODEC_IDS[codec] in codecs and codecs <= {CODEC_IDS[codec], 0}
    else:
        assert codecs == {CODEC_IDS[codec]}
    records = [record for _, record in back.records]
    assert [r.offset for r in records] == list(range(COUNT))
    assert [Sent(r.key, r.value, r.headers) for r in records] == expected
    assert back.read_all == [(i, s.key, s.value) for i, s in enumerate(expected)]


@pytest.mark.parametrize("codec", sorted(CODEC_IDS))
def test_librdkafka_batches_of_every_codec(cluster_a: KafkaCluster, new_topic: NewTopicFactory, codec: str
                                           ) -> None:
    topic = new_topic(cluster_a)
    producer = Producer({"bootstrap.servers": cluster_a.bootstrap, "compression.type": codec, "acks": "all",
                         "linger.ms": 100, "batch.num.messages": 100})
    expected = sent(codec)
    for i, record in enumerate(expected):
        producer.produce(topic, record.value, record.key, timestamp=T0 + 7 * i, headers=list(record.headers))
    assert producer.flush(60) == 0
    back = read_back(cluster_a, topic)
    assert_same_records(back, expected, codec, small_batches_plain=True)
    assert [record.timestamp for _, record in back.records] == [T0 + 7 * i for i in range(COUNT)]
    assert len(back.bodies) >= 3
    if codec == "snappy":  # librdkafka writes raw snappy: the path without xerial framing
        assert not any(body.startswith(XERIAL_MAGIC) for body in back.bodies)


@pytest.mark.parametrize("codec", sorted(CODEC_IDS))
def test_java_client_batches_of_every_codec(cluster_a: KafkaCluster, new_topic: NewTopicFactory, codec: str
                                            ) -> None:
    topic = new_topic(cluster_a)
    expected = sent(codec)
    before = int(time.time() * 1000)
    tools.console_produce(cluster_a.bootstrap, topic, [console_line(r) for r in expected], codec,
                          {"acks": "all", "batch.size": str(1 << 20)})
    after = int(time.time() * 1000)
    back = read_back(cluster_a, topic)
    assert_same_records(back, expected, codec)
    timestamps = [record.timestamp for _, record in back.records]
    assert before <= timestamps[0] and timestamps == sorted(timestamps) and timestamps[-1] <= after
    if codec == "snappy":  # the Java client frames snappy the xerial way, in 32 KiB blocks
        assert all(body.startswith(XERIAL_MAGIC) for body in back.bodies)


def test_log_append_time_gives_every_record_the_brokers_time(cluster_a: KafkaCluster,
                                                             new_topic: NewTopicFactory) -> None:
    topic = new_topic(cluster_a, config={"message.timestamp.type": "LogAppendTime"})
    producer = Producer({"bootstrap.servers": cluster_a.bootstrap, "compression.type": "zstd", "acks": "all"})
    expected = sent("zstd")
    before = int(time.time() * 1000)
    for record in expected:
        producer.produce(topic, record.value, record.key, timestamp=T0, headers=list(record.headers))
    assert producer.flush(60) == 0
    back = read_back(cluster_a, topic)
    assert_same_records(back, expected, "zstd")
    assert all(header.is_log_append_time for header, _ in back.records)
    assert all(record.timestamp == header.max_timestamp >= before for header, record in back.records)
