"""Session fixtures for real Kafka: clusters A and B in the production shape, the mirror A->B, topics.

A has three nodes (ids 1, 2, 3), B two with other ids (11, 12), as a primary and a smaller DR
site are: the shape every switch test runs on. Clusters cost seconds of JVM start-up on 2 cores,
so the pair is session scoped and started once, both clusters side by side. Every fixture
stops what it started in a `finally`, also when tests fail; the harness's atexit and signal
handlers are the last resort. When a test fails, the tail of every running harness log is added
to its report. `KFP_BACKEND=testcontainers` swaps the brokers for apache/kafka containers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness import processes
from harness.cluster import Cluster, ClusterSpec, KafkaCluster, start_clusters, stop_clusters, wait_for_topic
from harness.jars import KafkaJars, resolve
from harness.mirror import Mirror, start_mirror

NewTopicFactory = Callable[..., str]
A_NODES = (1, 2, 3)
B_NODES = (11, 12)


def _start_pair(first: ClusterSpec, second: ClusterSpec) -> list[KafkaCluster]:
    from harness import testcontainers_backend

    if testcontainers_backend.selected():
        return list(testcontainers_backend.start_clusters([first, second]))
    return list(start_clusters([first, second]))


def _stop_all(clusters: list[KafkaCluster]) -> None:
    local = [cluster for cluster in clusters if isinstance(cluster, Cluster)]
    if len(local) == len(clusters):  # at once: each multi-node leader waits ~5 s on shutdown
        stop_clusters(local)
        return
    for cluster in clusters:
        try:
            cluster.stop()
        except Exception as exc:  # keep stopping the others
            print(f"harness: stopping {cluster.name} failed: {exc!r}")


@pytest.fixture(scope="session")
def kafka_jars() -> KafkaJars:
    """The resolved Kafka 4.4.0 (and MM2) jars; resolves with Maven on first use."""
    return resolve()


@pytest.fixture(scope="session")
def _clusters_ab(kafka_jars: KafkaJars) -> Iterator[list[KafkaCluster]]:
    clusters = _start_pair(ClusterSpec("A", A_NODES), ClusterSpec("B", B_NODES))
    try:
        yield clusters
    finally:
        _stop_all(clusters)


@pytest.fixture(scope="session")
def cluster_a(_clusters_ab: list[KafkaCluster]) -> KafkaCluster:
    """Cluster A in the production shape: three combined nodes, ids 1, 2, 3."""
    return _clusters_ab[0]


@pytest.fixture(scope="session")
def cluster_b(_clusters_ab: list[KafkaCluster]) -> KafkaCluster:
    """Cluster B: two combined nodes with other ids, 11 and 12 (a smaller DR site)."""
    return _clusters_ab[1]


@pytest.fixture(scope="session")
def mirror_ab(cluster_a: KafkaCluster, cluster_b: KafkaCluster) -> Iterator[Mirror]:
    """MirrorMaker 2 replicating every topic and group A->B with identical names."""
    mirror = start_mirror(cluster_a.bootstrap, cluster_b.bootstrap, source_alias="A", target_alias="B")
    try:
        yield mirror
    finally:
        mirror.stop()


@pytest.fixture
def new_topic(request: pytest.FixtureRequest) -> NewTopicFactory:
    """`new_topic(cluster, partitions=1, replication_factor=1, config=None) -> name`: a fresh, unique topic."""

    def create(cluster: KafkaCluster | str, partitions: int = 1, replication_factor: int = 1,
               config: dict[str, str] | None = None) -> str:
        bootstrap = cluster if isinstance(cluster, str) else cluster.bootstrap
        name = f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topic = NewTopic(name, partitions, replication_factor, config=config or {})
        futures = admin.create_topics([topic], operation_timeout=30)
        futures[name].result(timeout=60)
        if not isinstance(cluster, str):
            wait_for_topic(cluster, name)
        return name

    return create


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed test, attach the tail of every running harness process's log to the report."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        tails = [f"--- {p.name} (pid {p.pid}, {p.log_path}) ---\n{p.log_tail(30)}" for p in processes.registered()]
        if tails:
            report.sections.append(("harness logs", "\n".join(tails)))
    return report
