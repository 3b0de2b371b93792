"""Optional backend: the same clusters from the apache/kafka image, via testcontainers.

Chosen with `KFP_BACKEND=testcontainers` where a Docker engine is reachable and Java/Maven are not
wanted for the brokers. No engine runs on the development machine, so CI here never exercises this
module; it is kept small, typed and import-safe (testcontainers is imported only when used).

Each node is a container on a private network. Clients on the host use a PLAINTEXT listener bound
to the same port number on the host and in the container (so the advertised 127.0.0.1:port is
right on both sides); brokers talk to each other and to the controllers on the network aliases.
MirrorMaker and the Java tools still run from the local jars against `bootstrap`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.cluster import (
    READY_TIMEOUT_S,
    ClusterSpec,
    ClusterStartError,
    Node,
    free_ports,
    metadata_matches,
    new_cluster_id,
    server_properties,
)
from harness.processes import STOP_GRACE_S

IMAGE = os.environ.get("KFP_KAFKA_IMAGE", "apache/kafka:4.4.0")
INTERNAL_PORT = 19092
CONTROLLER_PORT = 9093


def selected() -> bool:
    """True when the environment asks for this backend."""
    return os.environ.get("KFP_BACKEND", "").lower() == "testcontainers"


def _env_name(key: str) -> str:
    """apache/kafka's convention: `_` -> `__`, `-` -> `___`, `.` -> `_`, prefixed with KAFKA_."""
    return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def _node_settings(spec: ClusterSpec, node_id: int, port: int, alias: str, voters: str) -> dict[str, str]:
    node = Node(node_id, port, CONTROLLER_PORT, Path("/var/lib/kafka"))
    settings = server_properties(spec, node, voters)
    settings.update({
        "listeners": f"PLAINTEXT://0.0.0.0:{port},INTERNAL://0.0.0.0:{INTERNAL_PORT},"
                     f"CONTROLLER://0.0.0.0:{CONTROLLER_PORT}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},INTERNAL://{alias}:{INTERNAL_PORT}",
        "inter.broker.listener.name": "INTERNAL",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
    })
    return settings


class ContainerCluster:
    """Same surface as `harness.cluster.Cluster` (the `KafkaCluster` protocol)."""

    def __init__(self, spec: ClusterSpec, cluster_id: str, ports: dict[int, int], containers: list[Any],
                 network: Any) -> None:
        self.spec = spec
        self.name = spec.name
        self.cluster_id = cluster_id
        self._ports = ports
        self._containers = containers
        self._network = network

    @property
    def nodes(self) -> dict[int, tuple[str, int]]:
        return {node_id: ("127.0.0.1", port) for node_id, port in self._ports.items()}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self._ports.values())

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        for container in self._containers:
            container.get_wrapped_container().stop(timeout=int(grace_s))
        self._remove()

    def kill(self) -> None:
        for container in self._containers:
            container.get_wrapped_container().kill()
        self._remove()

    def _remove(self) -> None:
        for container in self._containers:
            container.stop()
        self._network.remove()

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for node_id, container in zip(self._ports, self._containers, strict=True):
            stdout, stderr = container.get_logs()
            text = (stdout + stderr).decode("utf-8", "replace").splitlines()[-lines:]
            tails.append(f"--- {self.name} node {node_id} (container) ---\n" + "\n".join(text))
        return "\n".join(tails)


def start_cluster(spec: ClusterSpec, timeout_s: float = READY_TIMEOUT_S) -> ContainerCluster:
    """Start one cluster of `spec.node_ids` combined nodes and wait as the JVM backend does."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    cluster_id = new_cluster_id()
    ports = dict(zip(spec.node_ids, free_ports(len(spec.node_ids)), strict=True))
    aliases = {node_id: f"kfp-{spec.name.lower()}-{node_id}" for node_id in spec.node_ids}
    voters = ",".join(f"{node_id}@{aliases[node_id]}:{CONTROLLER_PORT}" for node_id in spec.node_ids)
    network = Network().create()
    containers: list[Any] = []
    for node_id, port in ports.items():
        container = DockerContainer(IMAGE).with_network(network).with_network_aliases(aliases[node_id])
        container.with_bind_ports(port, port).with_env("CLUSTER_ID", cluster_id)
        for key, value in _node_settings(spec, node_id, port, aliases[node_id], voters).items():
            container.with_env(_env_name(key), value)
        containers.append(container)
    cluster = ContainerCluster(spec, cluster_id, ports, containers, network)
    for container in containers:
        container.start()
    deadline = time.monotonic() + timeout_s
    while not metadata_matches(cluster.bootstrap, cluster_id, spec.node_ids):
        if time.monotonic() > deadline:
            tail = cluster.log_tail()
            cluster.kill()
            raise ClusterStartError(f"{spec.name} not ready after {timeout_s:.0f} s:\n{tail}")
        time.sleep(0.5)
    return cluster


def start_clusters(specs: Iterable[ClusterSpec], timeout_s: float = READY_TIMEOUT_S) -> list[ContainerCluster]:
    """One after the other: the engine pulls and starts containers in parallel anyway."""
    started: list[ContainerCluster] = []
    try:
        for spec in specs:
            started.append(start_cluster(spec, timeout_s))
    except BaseException:
        for cluster in started:
            cluster.kill()
        raise
    return started
