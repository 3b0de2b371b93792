"""`make demo`: two regions' Kafka clusters and MirrorMaker 2 between them, on this machine.

Starts single-node clusters A and B, the mirror A->B, prints their addresses, round-trips a few
records through each with confluent-kafka and shows one record produced on A arriving on B with
the same topic name. Then it stops everything (or, with --keep-running, waits for Ctrl-C) and
checks that no process it started is left. Later issues add the proxy and a live switchover here.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import confluent_kafka

from harness import processes
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.mirror import Mirror, start_mirror, wait_for_records


def start_regions() -> tuple[Cluster, Cluster]:
    started = time.monotonic()
    a, b = start_clusters([ClusterSpec("A", (1,)), ClusterSpec("B", (1,))])
    print(f"clusters ready in {time.monotonic() - started:.1f} s")
    print(f"  A  bootstrap={a.bootstrap}  cluster_id={a.cluster_id}  nodes={a.nodes}")
    print(f"  B  bootstrap={b.bootstrap}  cluster_id={b.cluster_id}  nodes={b.nodes}")
    return a, b


def start_replication(a: Cluster, b: Cluster) -> Mirror:
    started = time.monotonic()
    mirror = start_mirror(a, b, source_alias="A", target_alias="B")
    print(f"MirrorMaker 2 A->B running in {time.monotonic() - started:.1f} s (pid {mirror.pid})")
    return mirror


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    # log_level 3: the first idempotent producer's "coordinator load in progress" retry is expected
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                        "log_level": 3})
    for value in values:
        producer.produce(topic, value=value)
    if producer.flush(30):
        raise RuntimeError(f"records to {topic} on {bootstrap} not delivered")


def consume(bootstrap: str, topic: str, count: int, group: str) -> list[bytes]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append(message.value() or b"")
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values


def round_trip(cluster: Cluster) -> None:
    topic = f"demo-{cluster.name.lower()}-{uuid.uuid4().hex[:6]}"
    sent = [f"hello {cluster.name} #{i}".encode() for i in range(3)]
    produce(cluster.bootstrap, topic, sent)
    received = consume(cluster.bootstrap, topic, len(sent), group=f"demo-{cluster.name}")
    status = "ok" if received == sent else "MISMATCH"
    print(f"  {cluster.name}: sent {len(sent)} and read back {len(received)} on {topic}: {status}")
    if received != sent:
        raise RuntimeError(f"round trip on {cluster.name} returned {received!r}")


def show_replication(a: Cluster, b: Cluster) -> None:
    topic = f"demo-mirrored-{uuid.uuid4().hex[:6]}"
    produce(a.bootstrap, topic, [b"produced on A"])
    seconds = wait_for_records(b.bootstrap, topic, 1, timeout_s=120)
    copied = consume(b.bootstrap, topic, 1, group="demo-reader")
    print(f"  A->B: {topic} appeared on B after {seconds:.1f} s with {copied!r}")


def wait_for_ctrl_c() -> None:
    print("running; press Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__)
    parser.add_argument("--keep-running", action="store_true", help="leave everything up until Ctrl-C")
    args = parser.parse_args(argv)
    a, b = start_regions()
    mirror: Mirror | None = None
    try:
        mirror = start_replication(a, b)
        print("round trips:")
        round_trip(a)
        round_trip(b)
        show_replication(a, b)
        if args.keep_running:
            wait_for_ctrl_c()
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])
    left = processes.live_pids()
    print("stopped; no harness process left" if not left else f"processes left: {left}")
    return 0 if not left else 1


if __name__ == "__main__":
    sys.exit(main())
