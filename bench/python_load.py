"""confluent-kafka load for the overhead bench: throughput runs and a serial latency probe.

These run in the bench process while the proxy runs in its own (harness.proxy_process), so the
Python client's cost is charged equally to the direct and the proxied run. Throughput is timed from
the first record to the last acknowledgement (producer) or the last record received (consumer), so a
group join or metadata fetch does not count as bytes per second.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer


def _mb_s(records: int, record_size: int, seconds: float) -> float:
    """MiB per second, the unit Kafka's perf tools call MB/sec."""
    return records * record_size / 1024 / 1024 / seconds


def produce_mb_s(bootstrap: str, topic: str, records: int, record_size: int = 1024) -> float:
    """acks=all, as fast as the client queues; raises if any record fails."""
    errors: list[Any] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "delivery.report.only.error": True, "log_level": 3,
                         "error_cb": lambda err: None})
    payload = os.urandom(record_size)

    def on_delivery(err: Any, _msg: Any) -> None:
        errors.append(err)

    producer.list_topics(topic, timeout=30)  # metadata before the clock starts
    start = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, payload, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.005)
    if producer.flush(120) != 0 or errors:
        raise RuntimeError(f"confluent-kafka produce failed: {errors[:3]}")
    return _mb_s(records, record_size, time.perf_counter() - start)


def consume_mb_s(bootstrap: str, topic: str, records: int, timeout_s: float = 120) -> float:
    """A fresh group from the earliest offset; timed from the first record to the `records`-th."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 3})
    consumer.subscribe([topic])
    got = size = 0
    start = 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while got < records:
            if time.monotonic() > deadline:
                raise RuntimeError(f"confluent-kafka consumed {got}/{records} in {timeout_s} s")
            for msg in consumer.consume(num_messages=1000, timeout=1.0):
                error = msg.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"confluent-kafka consume error: {error}")
                if error is None:
                    if not got:
                        start = time.perf_counter()
                    got += 1
                    size += len(msg.value() or b"")
        return size / 1024 / 1024 / (time.perf_counter() - start)
    finally:
        consumer.close()


def probe_latencies_ms(bootstrap: str, topic: str, keep_going: Callable[[], bool], min_samples: int = 200,
                       interval_s: float = 0.005, delay_s: float = 0.0, record_size: int = 1024) -> list[float]:
    """One 1 KiB acks=all record at a time to partition 0, produce() to acknowledgement, in ms.

    ProducerPerformance prints percentiles in whole milliseconds; this probe resolves the
    sub-millisecond difference the proxy adds. It sends one record every `interval_s` (a light load
    beside the throttled ProducerPerformance it runs with) while `keep_going()`, and at least
    `min_samples` times, starting after `delay_s` (while the load it accompanies starts up). Any failed
    delivery raises: a fast error is not a fast acknowledgement.
    """
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, "log_level": 3})
    payload = os.urandom(record_size)
    errors: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for _ in range(20):  # connections, metadata, the first batches
        producer.produce(topic, payload, partition=0, on_delivery=on_delivery)
        producer.flush(10)
    time.sleep(delay_s)
    samples: list[float] = []
    while keep_going() or len(samples) < min_samples:
        start = time.perf_counter_ns()
        producer.produce(topic, payload, partition=0, on_delivery=on_delivery)
        if producer.flush(10) != 0 or errors:
            raise RuntimeError(f"latency probe: record not acknowledged: {errors[:1] or 'timeout'}")
        samples.append((time.perf_counter_ns() - start) / 1e6)
        time.sleep(interval_s)
    return samples


def while_running(work: Callable[[], Any], probe: Callable[[Callable[[], bool]], list[float]]
                  ) -> tuple[Any, list[float]]:
    """Run `work` in a thread and `probe` in this one until `work` returns; both results."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-load", daemon=True)
    thread.start()
    samples = probe(thread.is_alive)
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"], samples
