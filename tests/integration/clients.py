"""Small, blocking produce/consume helpers for each Python client library, shared by the tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiokafka
import confluent_kafka
import kafka


def confluent_produce(bootstrap: str, topic: str, values: list[bytes], **conf: Any) -> int:
    """Produce with confluent-kafka (idempotent); returns how many were acknowledged."""
    acked: list[bool] = []
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, **conf})

    def on_delivery(err: Any, _msg: Any) -> None:
        acked.append(err is None)

    for value in values:
        producer.produce(topic, value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} messages not delivered"
    return sum(acked)


def confluent_consume(bootstrap: str, topic: str, group: str, count: int, timeout_s: float = 60, **conf: Any
                      ) -> list[bytes]:
    """Consume `count` records with a group consumer and commit them synchronously."""
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, **conf,
    })
    consumer.subscribe([topic])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg.value())
        if out:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return out


def confluent_committed(bootstrap: str, topic: str, group: str, partitions: int) -> dict[int, int]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [confluent_kafka.TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=30)}
    finally:
        consumer.close()


def kafka_python_produce(bootstrap: str, topic: str, values: list[bytes], **conf: Any) -> int:
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **conf)
    try:
        futures = [producer.send(topic, value) for value in values]
        producer.flush(60)
        return sum(1 for f in futures if f.get(timeout=60) is not None)
    finally:
        producer.close()


def kafka_python_consume(bootstrap: str, topic: str, group: str, count: int, timeout_s: float = 60, **conf: Any
                         ) -> list[bytes]:
    consumer = kafka.KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=int(timeout_s * 1000), **conf,
    )
    out: list[bytes] = []
    try:
        for record in consumer:
            out.append(record.value)
            if len(out) >= count:
                break
        if out:
            consumer.commit()
    finally:
        consumer.close()
    return out


async def _aiokafka_produce(bootstrap: str, topic: str, values: list[bytes], transactional_id: str | None,
                            **conf: Any) -> int:
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                         transactional_id=transactional_id, **conf)
    await producer.start()
    try:
        if transactional_id is None:
            results = [await producer.send_and_wait(topic, value) for value in values]
        else:
            async with producer.transaction():
                results = [await producer.send_and_wait(topic, value) for value in values]
        return len(results)
    finally:
        await producer.stop()


def aiokafka_produce(bootstrap: str, topic: str, values: list[bytes], transactional_id: str | None = None,
                     **conf: Any) -> int:
    return asyncio.run(_aiokafka_produce(bootstrap, topic, values, transactional_id, **conf))


async def _aiokafka_consume(bootstrap: str, topic: str, group: str, count: int, timeout_s: float,
                            isolation_level: str, **conf: Any) -> list[bytes]:
    consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                         auto_offset_reset="earliest", enable_auto_commit=False,
                                         isolation_level=isolation_level, **conf)
    await consumer.start()
    out: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                out.extend(r.value for r in records)
        if out:
            await consumer.commit()
    finally:
        await consumer.stop()
    return out


def aiokafka_consume(bootstrap: str, topic: str, group: str, count: int, timeout_s: float = 60,
                     isolation_level: str = "read_uncommitted", **conf: Any) -> list[bytes]:
    return asyncio.run(_aiokafka_consume(bootstrap, topic, group, count, timeout_s, isolation_level, **conf))


def values(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}-{i:06d}".encode() for i in range(count)]
