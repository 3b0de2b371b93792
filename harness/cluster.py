"""KRaft clusters of 1..N combined controller+broker nodes, as local JVMs on loopback.

Each node is `process.roles=broker,controller` with a static `controller.quorum.voters` list, so
the storage is formatted without `--standalone` and any node ids work: A can be [1, 2, 3] while B
is [1] or [4, 5], which is what the proxy's address and node-id mapping must cope with. Every
cluster gets its own random cluster id (a Kafka Uuid), work dir and free loopback ports.

Several clusters start together (`start_clusters`): all storage formats run at once, then all
brokers, then one loop waits for all of them, because on 2 cores JVM start-up dominates.
A cluster is ready when every PLAINTEXT port accepts (the acceptor opens only once the broker is
unfenced) and a Metadata response lists every node id under the expected cluster id.
"""

from __future__ import annotations

import base64
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka.admin import AdminClient

from harness import jvm, processes
from harness.jars import KafkaJars, resolve
from harness.processes import STOP_GRACE_S, ManagedProcess
from harness.retriable import or_else

HOST = "127.0.0.1"
BROKER_HEAP = ("-Xms128m", "-Xmx384m")
FORMAT_HEAP = ("-Xmx128m",)
READY_TIMEOUT_S = 180.0  # five JVMs at once on a loaded 2-core machine can take over 90 s

_ports_handed_out: set[int] = set()
_ports_lock = threading.Lock()


class ClusterStartError(RuntimeError):
    """A node did not format, died, or was not ready in time; the message carries its log tail."""


def new_cluster_id() -> str:
    """A Kafka Uuid: 16 random bytes as unpadded base64url; like Kafka, never one with a '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if "-" not in candidate:
            return candidate


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free on loopback, never the same one twice in this process."""
    chosen: list[int] = []
    probes: list[socket.socket] = []
    with _ports_lock:
        try:
            while len(chosen) < count:
                probe = socket.socket()
                probe.bind((HOST, 0))
                probes.append(probe)
                port = probe.getsockname()[1]
                if port not in _ports_handed_out:
                    chosen.append(port)
                    _ports_handed_out.add(port)
        finally:
            for probe in probes:
                probe.close()
    return chosen


@dataclass(frozen=True)
class ClusterSpec:
    """What a caller chooses: a name (also the log prefix), node ids and extra broker settings."""

    name: str
    node_ids: tuple[int, ...] = (1,)
    overrides: Mapping[str, str] = field(default_factory=dict)
    # SCRAM users (name -> password) for a SASL_PLAINTEXT listener next to PLAINTEXT; empty: no such listener
    sasl_users: Mapping[str, str] = field(default_factory=dict)
    tls: BrokerTls | None = None
    """An SSL listener next to PLAINTEXT (inter-broker and controller stay PLAINTEXT); with `sasl_users`
    too, a SASL_SSL listener as well (the same users, over the same certificate)."""


@dataclass(frozen=True)
class BrokerTls:
    """The SSL listener's PEM certificate chain and key, the CA it trusts, and `ssl.client.auth`."""

    cert: Path
    key: Path
    ca: Path
    client_auth: str = "none"

    def properties(self) -> dict[str, str]:
        """Kafka's PEM keystore inline (a properties value keeps its newlines as `\\n`)."""
        def inline(path: Path) -> str:
            return path.read_text().strip().replace("\n", "\\n")
        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": inline(self.cert),
            "ssl.keystore.key": inline(self.key),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": inline(self.ca),
            "ssl.client.auth": self.client_auth,
        }


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: ManagedProcess | None = None
    sasl_port: int = 0  # the SASL_PLAINTEXT listener, when the spec has SASL users
    ssl_port: int | None = None
    sasl_ssl_port: int | None = None  # SASL over TLS, when the spec has SASL users and TLS


def client_listeners(spec: ClusterSpec, node: Node) -> dict[str, int]:
    """Security protocol -> port of every client listener of `node`; each listener is named after its
    protocol. PLAINTEXT is always there: the harness's own clients, inter-broker traffic and, with an
    authorizer, the super user User:ANONYMOUS."""
    ports = {"PLAINTEXT": node.port}
    if spec.sasl_users:
        ports["SASL_PLAINTEXT"] = node.sasl_port
    if node.ssl_port is not None:
        ports["SSL"] = node.ssl_port
    if node.sasl_ssl_port is not None:
        ports["SASL_SSL"] = node.sasl_ssl_port
    return ports


def server_properties(spec: ClusterSpec, node: Node, voters: str) -> dict[str, str]:
    """Reference section 3 settings, sized for 1..N nodes (replication factor min(3, N))."""
    replication = str(min(3, len(spec.node_ids)))
    listeners = client_listeners(spec, node)
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listeners": ",".join(f"{name}://{HOST}:{port}"
                              for name, port in {**listeners, "CONTROLLER": node.controller_port}.items()),
        "advertised.listeners": ",".join(f"{name}://{HOST}:{port}" for name, port in listeners.items()),
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(["CONTROLLER:PLAINTEXT", *(f"{name}:{name}" for name in listeners)]),
        "log.dirs": str(node.directory / "data"),
        "num.partitions": "1",
        "num.recovery.threads.per.data.dir": "1",
        "offsets.topic.replication.factor": replication,
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": "2097152",
        "num.io.threads": "2",
        "num.network.threads": "2",
    }
    if spec.sasl_users:
        settings.update(sasl_listener_properties(spec, [name for name in listeners if name.startswith("SASL_")]))
    if spec.tls is not None:
        settings.update(spec.tls.properties())
    settings.update(spec.overrides)
    return settings


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def sasl_listener_properties(spec: ClusterSpec, listener_names: Sequence[str]) -> dict[str, str]:
    """PLAIN and SCRAM on each SASL listener; inter-broker and controller traffic stay PLAINTEXT.

    SCRAM users live in the cluster metadata (added at format time); PLAIN users in the JAAS line.
    """
    plain_users = " ".join(f'user_{user}="{password}"' for user, password in spec.sasl_users.items())
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    settings = {"sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS)}
    for name in listener_names:
        prefix = f"listener.name.{name.lower()}"
        settings[f"{prefix}.plain.sasl.jaas.config"] = \
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
        settings[f"{prefix}.scram-sha-256.sasl.jaas.config"] = scram
        settings[f"{prefix}.scram-sha-512.sasl.jaas.config"] = scram
    return settings


def scram_format_args(spec: ClusterSpec) -> list[str]:
    """`kafka-storage format --add-scram` arguments: every SASL user under both SCRAM mechanisms."""
    return [arg for user, password in spec.sasl_users.items() for mechanism in SASL_MECHANISMS[1:]
            for arg in ("--add-scram", f"{mechanism}=[name={user},password={password}]")]


class KafkaCluster(Protocol):
    """What tests rely on, whichever backend started the cluster (local JVMs or testcontainers)."""

    name: str
    cluster_id: str

    @property
    def bootstrap(self) -> str: ...

    @property
    def nodes(self) -> dict[int, tuple[str, int]]: ...

    def stop(self, grace_s: float = STOP_GRACE_S) -> None: ...

    def kill(self) -> None: ...

    def log_tail(self, lines: int = 40) -> str: ...


class Cluster:
    """A running cluster; `bootstrap` lists every node, `nodes` maps node id to (host, port)."""

    def __init__(self, spec: ClusterSpec, cluster_id: str, workdir: Path, nodes: list[Node]) -> None:
        self.spec = spec
        self.name = spec.name
        self.cluster_id = cluster_id
        self.workdir = workdir
        self._nodes = nodes

    @property
    def nodes(self) -> dict[int, tuple[str, int]]:
        return {node.node_id: (HOST, node.port) for node in self._nodes}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{node.port}" for node in self._nodes)

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_PLAINTEXT listeners (a spec with `sasl_users` only)."""
        if not self.spec.sasl_users:
            raise ValueError(f"cluster {self.name} has no SASL listener")
        return ",".join(f"{HOST}:{node.sasl_port}" for node in self._nodes)

    @property
    def ssl_bootstrap(self) -> str:
        """The SSL listener of every node (a spec with `tls`); empty without one."""
        return ",".join(f"{HOST}:{node.ssl_port}" for node in self._nodes if node.ssl_port is not None)

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """The SASL_SSL listeners (a spec with both `sasl_users` and `tls`)."""
        if not (self.spec.sasl_users and self.spec.tls):
            raise ValueError(f"cluster {self.name} has no SASL_SSL listener")
        return ",".join(f"{HOST}:{node.sasl_ssl_port}" for node in self._nodes)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [node.process for node in self._nodes if node.process is not None]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Graceful: SIGTERM every node at once, SIGKILL after `grace_s`; removes the work dir."""
        processes.stop_many(self.processes, grace_s)
        processes.remove_workdir(self.workdir)

    def kill(self) -> None:
        """SIGKILL every node: the region is gone, no controlled shutdown, no flush."""
        processes.kill_many(self.processes)
        processes.remove_workdir(self.workdir)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {self.name} node {node.node_id} ({node.directory / 'server.log'}) ---\n"
                         + processes.tail_file(node.directory / "server.log", lines) for node in self._nodes)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Cluster({self.name!r}, id={self.cluster_id}, bootstrap={self.bootstrap})"


def _prepare(spec: ClusterSpec) -> Cluster:
    if not spec.node_ids or len(set(spec.node_ids)) != len(spec.node_ids):
        raise ValueError(f"cluster {spec.name}: node ids must be distinct and non-empty: {spec.node_ids}")
    workdir = processes.make_workdir(spec.name)
    extra = [kind for kind, wanted in (("sasl", bool(spec.sasl_users)), ("ssl", spec.tls is not None),
                                       ("sasl_ssl", bool(spec.sasl_users) and spec.tls is not None)) if wanted]
    per_node = 2 + len(extra)
    ports = free_ports(per_node * len(spec.node_ids))

    def port_of(i: int, kind: str) -> int:
        return ports[per_node * i + 2 + extra.index(kind)]

    nodes = [Node(node_id, ports[per_node * i], ports[per_node * i + 1], workdir / f"node-{node_id}",
                  sasl_port=port_of(i, "sasl") if spec.sasl_users else 0,
                  ssl_port=port_of(i, "ssl") if "ssl" in extra else None,
                  sasl_ssl_port=port_of(i, "sasl_ssl") if "sasl_ssl" in extra else None)
             for i, node_id in enumerate(spec.node_ids)]
    voters = ",".join(f"{node.node_id}@{HOST}:{node.controller_port}" for node in nodes)
    for node in nodes:
        jvm.write_properties(node.directory / "server.properties", server_properties(spec, node, voters))
        jvm.write_log4j2_config(node.directory / "log4j2.properties")
    return Cluster(spec, new_cluster_id(), workdir, nodes)


def _node_command(jars: KafkaJars, node: Node, main: str, args: Sequence[str], heap: Sequence[str]) -> list[str]:
    return jvm.java_command(jars.classpath, main, args, heap=heap,
                            log4j2_config=node.directory / "log4j2.properties", logs_dir=node.directory / "logs")


def _format_all(jars: KafkaJars, clusters: list[Cluster]) -> None:
    """Format every node's storage at once (one short JVM each) and fail with its output."""
    formats = [
        (cluster, node, processes.spawn(
            f"{cluster.name}-format-{node.node_id}",
            _node_command(jars, node, "kafka.tools.StorageTool",
                          ["format", "-t", cluster.cluster_id, "-c", str(node.directory / "server.properties"),
                           *scram_format_args(cluster.spec)],
                          FORMAT_HEAP),
            node.directory / "format.log"))
        for cluster in clusters for node in cluster._nodes
    ]
    for cluster, node, process in formats:
        try:
            code: int | None = process.popen.wait(120)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            processes.stop_many([process], 0)
        if code != 0:
            raise ClusterStartError(f"{cluster.name} node {node.node_id}: storage format exited {code}:\n"
                                    + process.log_tail())


def _start_brokers(jars: KafkaJars, clusters: list[Cluster]) -> None:
    for cluster in clusters:
        for node in cluster._nodes:
            command = _node_command(jars, node, "kafka.Kafka", [str(node.directory / "server.properties")],
                                    BROKER_HEAP)
            node.process = processes.spawn(f"{cluster.name}-node-{node.node_id}", command,
                                           node.directory / "server.log", tier=1)


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def metadata_matches(bootstrap: str, cluster_id: str, node_ids: Iterable[int]) -> bool:
    """True once a Metadata response carries `cluster_id` and lists exactly `node_ids`."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    try:
        metadata = admin.list_topics(timeout=5)
    except Exception:
        return False
    return bool(metadata.cluster_id == cluster_id and set(metadata.brokers) == set(node_ids))


def _topic_metadata(admin: AdminClient, topic: str) -> Any:
    return admin.list_topics(topic, timeout=10).topics.get(topic)


def wait_for_topic(cluster: KafkaCluster, topic: str, timeout_s: float = 30.0) -> None:
    """Until every node's own Metadata shows `topic` with a leader for each partition.

    CreateTopics returns once the controller committed the topic; the other brokers learn it from
    the metadata log a little later, so a client bootstrapping through them may see
    UNKNOWN_TOPIC_OR_PARTITION for a few hundred milliseconds on a multi-node cluster.
    """
    deadline = time.monotonic() + timeout_s
    for host, port in cluster.nodes.values():
        admin = AdminClient({"bootstrap.servers": f"{host}:{port}", "log_level": 2})
        while True:
            found = or_else(partial(_topic_metadata, admin, topic), None)
            if found is not None and found.error is None and found.partitions and all(
                    p.leader >= 0 for p in found.partitions.values()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not visible on {host}:{port} after {timeout_s:.0f} s")
            time.sleep(0.1)


def _ready(cluster: Cluster) -> bool:
    for node in cluster._nodes:
        if node.process is not None and not node.process.alive():
            raise ClusterStartError(f"{cluster.name} node {node.node_id} exited with "
                                    f"{node.process.popen.returncode}:\n{cluster.log_tail()}")
    if not all(_port_accepts(node.port) for node in cluster._nodes):
        return False
    return metadata_matches(cluster.bootstrap, cluster.cluster_id, cluster.spec.node_ids)


def _wait_ready(clusters: list[Cluster], timeout_s: float) -> None:
    pending = list(clusters)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = [cluster for cluster in pending if not _ready(cluster)]
        if pending and time.monotonic() > deadline:
            raise ClusterStartError(f"not ready after {timeout_s:.0f} s: "
                                    + "\n".join(cluster.log_tail() for cluster in pending))
        if pending:
            time.sleep(0.25)


def start_clusters(specs: Iterable[ClusterSpec], timeout_s: float = READY_TIMEOUT_S) -> list[Cluster]:
    """Start several clusters concurrently; on any failure stop them all and print their logs."""
    jars = resolve()
    clusters: list[Cluster] = []
    try:
        clusters.extend(_prepare(spec) for spec in specs)
        _format_all(jars, clusters)
        _start_brokers(jars, clusters)
        _wait_ready(clusters, timeout_s)
    except BaseException as exc:
        if isinstance(exc, ClusterStartError):
            print(f"harness: {exc}", file=sys.stderr)
        for cluster in clusters:
            cluster.kill()
        raise
    return clusters


def start_cluster(name: str, node_ids: Sequence[int] = (1,), overrides: Mapping[str, str] | None = None,
                  timeout_s: float = READY_TIMEOUT_S) -> Cluster:
    """One cluster; see `start_clusters` to start A and B side by side."""
    spec = ClusterSpec(name, tuple(node_ids), dict(overrides or {}))
    return start_clusters([spec], timeout_s)[0]


def stop_clusters(clusters: Iterable[Cluster], grace_s: float = STOP_GRACE_S) -> None:
    """Stop several clusters at once: a multi-node KRaft leader waits ~5 s for a successor."""
    targets = list(clusters)
    processes.stop_many([process for cluster in targets for process in cluster.processes], grace_s)
    for cluster in targets:
        processes.remove_workdir(cluster.workdir)
