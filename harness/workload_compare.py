"""The same load on two paths to one cluster, direct and through the proxy, judged side by side.

A broker failure is not the proxy's fault: both paths stall while the controller fences the dead
broker and elects new leaders. What the proxy must not do is lose, duplicate or withhold records,
or stall longer. So every library runs one producer and one group consumer per path, on its own
topic, at the same time, through the same failure; the verdict of each path comes from the
cluster's log (`workload_verify`), and the pauses are the longest gaps between acknowledgements
(producer) and between deliveries (consumer) inside the disturbed window.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness import workload
from harness.cluster import KafkaCluster, wait_for_topic
from harness.workload import ConsumerWorker, ProducerWorker
from harness.workload_verify import Verdict, verify

PATHS = ("direct", "proxy")
PARTITIONS = 6
TOPIC_CONFIG = {"min.insync.replicas": "2"}


@dataclass
class PathLoad:
    """One library's producer and consumer on one path."""

    library: str
    path: str
    topic: str
    producer: ProducerWorker
    consumer: ConsumerWorker
    bootstrap: str = ""
    run: str = ""
    verdict: Verdict | None = None
    warm_up_restarts: int = 0


@dataclass(frozen=True)
class PathResult:
    """What a test asserts about one library on one path."""

    library: str
    path: str
    lost: int
    duplicates: int
    unconsumed: int
    replayed: int
    acked: int
    unacked: int
    producer_pause_s: float
    consumer_pause_s: float

    @property
    def pause_s(self) -> float:
        return max(self.producer_pause_s, self.consumer_pause_s)


@dataclass
class Comparison:
    """Every library on both paths; `window` is the disturbed interval, wall clock."""

    loads: list[PathLoad]
    window: tuple[float, float] = (0.0, 0.0)
    results: list[PathResult] = field(default_factory=list)
    no_control: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join(
            f"{r.library:>12} {r.path:>6}: acked {r.acked}, unacked {r.unacked}, lost {r.lost}, dup {r.duplicates}, "
            f"unconsumed {r.unconsumed}, replayed {r.replayed}, longest pause: producer {r.producer_pause_s:.2f} s, "
            f"consumer {r.consumer_pause_s:.2f} s"
            for r in sorted(self.results, key=lambda r: (r.library, r.path))) + "".join(
            f"\n{load.library:>12} {load.path:>6}: consumer replaced during warm-up"
            for load in self.loads if load.warm_up_restarts) + "".join(
            f"\n{library:>12} direct: no control this run (its consumer never started consuming)"
            for library in self.no_control) + "".join(
            f"\n{load.library:>12} {load.path:>6}: lost {lost}"
            for load in self.loads if load.verdict is not None
            for lost in load.verdict.producers[0].lost_sample)

    def result(self, library: str, path: str) -> PathResult:
        return next(r for r in self.results if r.library == library and r.path == path)


def create_topic(cluster: KafkaCluster, name: str) -> str:
    """Six partitions, replication factor 3, min.insync.replicas 2 (a broker may die, no write may be lost)."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 2})
    admin.create_topics([NewTopic(name, PARTITIONS, 3, config=TOPIC_CONFIG)])[name].result(60)
    wait_for_topic(cluster, name)
    return name


def longest_pause(times: Sequence[float], start: float, end: float) -> float:
    """The longest stretch within [start, end] with no event (its edges count as events)."""
    inside = sorted(t for t in times if start < t < end)
    return max(b - a for a, b in itertools.pairwise([start, *inside, end]))


@contextmanager
def compared_load(cluster: KafkaCluster, bootstraps: dict[str, str], libraries: Sequence[str],
                  rate: float = 40.0, warm_up_s: float = 120.0) -> Iterator[Comparison]:
    """Load running on every path for every library; the block disturbs the cluster.

    On entry every consumer has received records (its group is joined); the window starts there.
    On exit the producers stop, the consumers get `drain_s` to catch up, and each path is judged.
    """
    run = workload.new_run_id()
    loads = [_start(cluster, library, path, bootstraps[path], run, rate) for library in libraries for path in PATHS]
    comparison = Comparison(loads)
    try:
        for load in list(loads):
            try:
                _wait_consuming(load, warm_up_s)
            except TimeoutError:
                if load.path != "direct":
                    raise
                _drop_control(comparison, load)
        started = time.time()
        yield comparison
        comparison.window = (started, time.time())
    finally:
        _finish(cluster, comparison)


def _drop_control(comparison: Comparison, load: PathLoad) -> None:
    """A direct consumer that never starts is the client's trouble, not the proxy's: this run then
    has no direct control for that library (kafka-python, after broker restarts, sometimes never
    finds its coordinator again, even in a new group). The proxy path is still judged in full."""
    load.producer.stop()
    load.consumer.stop()
    comparison.loads.remove(load)
    comparison.no_control.append(load.library)


def _start(cluster: KafkaCluster, library: str, path: str, bootstrap: str, run: str, rate: float) -> PathLoad:
    topic = create_topic(cluster, f"fault-{run}-{library}-{path}")
    producer = workload.producer(library, bootstrap, topic, name=f"{library}-{path}-p", rate=rate, run_id=run)
    consumer = workload.consumer(library, bootstrap, topic, f"fault-{run}-{library}-{path}",
                                 name=f"{library}-{path}-c")
    return PathLoad(library, path, topic, producer.start(), consumer.start(), bootstrap, run)


def _wait_consuming(load: PathLoad, timeout_s: float) -> None:
    """Until the consumer has records. A consumer that got none in half the time is replaced once,
    in a new group: before the disturbance starts, this is the harness's business, not the verdict's
    (kafka-python sometimes never finds its coordinator after a broker restart, direct as well)."""
    def consuming() -> bool:
        return bool(load.consumer.records)

    def describe() -> str:
        return f"{load.library} {load.path}: nothing consumed; {load.consumer.errors[-3:]} {load.producer.errors[-3:]}"

    try:
        workload.wait_until(consuming, timeout_s / 2, describe)
        return
    except TimeoutError:
        load.consumer.stop()
    load.warm_up_restarts += 1
    load.consumer = workload.consumer(load.library, load.bootstrap, load.topic,
                                      f"fault-{load.run}-{load.library}-{load.path}-again",
                                      name=f"{load.library}-{load.path}-c2").start()
    workload.wait_until(consuming, timeout_s / 2, describe)


def _finish(cluster: KafkaCluster, comparison: Comparison, drain_s: float = 60.0) -> None:
    """Stop every producer at once (a stuck one's flush must not keep the others producing), then drain."""
    with ThreadPoolExecutor(len(comparison.loads)) as pool:
        list(pool.map(lambda load: load.producer.stop(), comparison.loads))
    for load in comparison.loads:
        load.consumer.wait_consumed(load.producer.acked_values, drain_s)
    with ThreadPoolExecutor(len(comparison.loads)) as pool:
        list(pool.map(lambda load: load.consumer.stop(), comparison.loads))
    for load in comparison.loads:
        load.verdict = verify(cluster.bootstrap, load.topic, [load.producer], [load.consumer])
        comparison.results.append(_result(load, comparison.window))


def _result(load: PathLoad, window: tuple[float, float]) -> PathResult:
    assert load.verdict is not None
    producer, consumer = load.verdict.producers[0], load.verdict.consumers[0]
    start, end = window
    acks = [ack.at for ack in load.producer.acks]
    deliveries = [record.at for record in load.consumer.records]
    return PathResult(load.library, load.path, producer.lost, producer.duplicates, consumer.unconsumed,
                      consumer.replayed, producer.acked, producer.sent - producer.acked,
                      round(longest_pause(acks, start, end), 2), round(longest_pause(deliveries, start, end), 2))
