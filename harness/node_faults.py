"""One node of a running cluster at a time: stop, kill, pause, restart, and a rolling restart.

Failure tests need a broker to die the way brokers die in production (SIGKILL: no controlled
shutdown, leaders move only once the controller fences it after `broker.session.timeout.ms`),
to leave the way an operator takes one out (SIGTERM: controlled shutdown moves its leaders first),
to hang (SIGSTOP: its sockets still accept, nothing answers), and to come back with its old node
id, data and port. A restarted node reuses its config and log dirs, so it rejoins as itself.

A rolling restart waits, after every node, until no partition is under-replicated: restarting the
next node earlier could take a partition below `min.insync.replicas`, which is an outage the
operator caused, not one the proxy should be judged on.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from confluent_kafka.admin import AdminClient

from harness import processes
from harness.cluster import BROKER_HEAP, HOST, Cluster, Node, _node_command, _port_accepts
from harness.jars import resolve
from harness.processes import STOP_GRACE_S

NODE_READY_TIMEOUT_S = 240.0
"""A restarted node loads every partition it holds before it registers again: in a full run on the
loaded 2-core machine one with 145 partitions was not back in metadata after 90 s."""


def node(cluster: Cluster, node_id: int) -> Node:
    """The node with this id; KeyError names the ids there are."""
    for candidate in cluster._nodes:
        if candidate.node_id == node_id:
            return candidate
    raise KeyError(f"{cluster.name} has no node {node_id}; it has {sorted(cluster.nodes)}")


def kill_node(cluster: Cluster, node_id: int) -> None:
    """SIGKILL one node: no controlled shutdown, its data dir stays for a restart."""
    target = node(cluster, node_id)
    if target.process is not None:
        processes.kill_many([target.process])
        target.process = None


def stop_node(cluster: Cluster, node_id: int, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM one node (controlled shutdown: its leaders move first), SIGKILL after `grace_s`."""
    target = node(cluster, node_id)
    if target.process is not None:
        processes.stop_many([target.process], grace_s)
        target.process = None


def pause_node(cluster: Cluster, node_id: int) -> None:
    """SIGSTOP: the node's sockets still accept connections, but nothing is read or answered."""
    _signal(cluster, node_id, signal.SIGSTOP)


def resume_node(cluster: Cluster, node_id: int) -> None:
    """SIGCONT after `pause_node`."""
    _signal(cluster, node_id, signal.SIGCONT)


def _signal(cluster: Cluster, node_id: int, signum: int) -> None:
    target = node(cluster, node_id)
    if target.process is None or not target.process.alive():
        raise RuntimeError(f"{cluster.name} node {node_id} is not running")
    target.process.popen.send_signal(signum)


def start_node(cluster: Cluster, node_id: int, timeout_s: float = NODE_READY_TIMEOUT_S) -> None:
    """Start a stopped or killed node again with its old config and data; wait until it is back."""
    target = node(cluster, node_id)
    if target.process is not None and target.process.alive():
        raise RuntimeError(f"{cluster.name} node {node_id} is already running")
    command = _node_command(resolve(), target, "kafka.Kafka", [str(target.directory / "server.properties")],
                            BROKER_HEAP)
    target.process = processes.spawn(f"{cluster.name}-node-{node_id}", command, target.directory / "server.log",
                                     tier=1)
    _wait(lambda: _node_listed(cluster, target), timeout_s, f"{cluster.name} node {node_id} back in metadata",
          cluster, target)


def _node_listed(cluster: Cluster, target: Node) -> bool:
    """The node's port accepts (it opens once unfenced) and its own Metadata lists it."""
    if not _port_accepts(target.port):
        return False
    admin = AdminClient({"bootstrap.servers": f"{HOST}:{target.port}", "log_level": 2})
    try:
        return target.node_id in admin.list_topics(timeout=5).brokers
    except Exception:
        return False


def under_replicated(cluster: Cluster) -> int:
    """Partitions (internal topics included) whose ISR is smaller than their replica set."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 2})
    metadata = admin.list_topics(timeout=10)
    return sum(len(p.isrs) < len(p.replicas) for t in metadata.topics.values() for p in t.partitions.values())


def wait_fully_replicated(cluster: Cluster, timeout_s: float = NODE_READY_TIMEOUT_S) -> None:
    """Until no partition is under-replicated (what an operator checks between two restarts)."""
    _wait(lambda: _quietly(lambda: under_replicated(cluster) == 0), timeout_s,
          f"{cluster.name}: under-replicated partitions at zero", cluster)


def rolling_restart(cluster: Cluster, grace_s: float = STOP_GRACE_S, pause_s: float = 0.0,
                    timeout_s: float = NODE_READY_TIMEOUT_S) -> list[tuple[int, float, float]]:
    """Each node in turn: controlled shutdown, start, wait for zero under-replicated partitions.

    Returns (node id, stopped at, back at) per node, wall-clock, so a test can place pauses it saw.
    """
    timeline: list[tuple[int, float, float]] = []
    for node_id in sorted(cluster.nodes):
        wait_fully_replicated(cluster, timeout_s)
        stopped_at = time.time()
        stop_node(cluster, node_id, grace_s)
        time.sleep(pause_s)
        start_node(cluster, node_id, timeout_s)
        timeline.append((node_id, stopped_at, time.time()))
    wait_fully_replicated(cluster, timeout_s)
    return timeline


def _quietly(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:
        return False


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, cluster: Cluster,
          target: Node | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if target is not None and target.process is not None and not target.process.alive():
            raise RuntimeError(f"{cluster.name} node {target.node_id} exited while waiting for {what}:\n"
                               + target.process.log_tail())
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached after {timeout_s:.0f} s: {what}\n{cluster.log_tail(20)}")
        time.sleep(0.25)
