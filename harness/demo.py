"""`make demo`: a live regional failover on this machine, and a report of what it cost.

Starts single-node clusters A and B, MirrorMaker 2 A->B and the proxy (A active); round-trips a few
records through each cluster; then runs an idempotent producer and a group consumer through the
proxy, switches the proxy to B midway (planned), keeps the load running on B, and prints: sent,
acked, received, lost, duplicated, the unavailability window and the phase timings. Exits 0 only
if nothing acknowledged was lost and nothing was written twice, and no process it started is left.
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
from harness.proxy_thread import ProxyThread, proxy_config

DEMO_PRICE_PER_GB = 0.02  # an illustrative inter-region transfer price, for the cost gate


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


def live_switch(a: Cluster, b: Cluster, load_s: float) -> bool:
    """Load through the proxy, a planned switch midway, the verdict from B's log; True if clean."""
    from harness import workload

    proxy = ProxyThread(proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A",
                                     mirrors=[{"source": "A", "target": "B"}],
                                     readiness={"transfer_price_per_gb": DEMO_PRICE_PER_GB})).start()
    try:
        print(f"proxy: clients bootstrap at {proxy.bootstrap}; active cluster A")
        topic = f"demo-orders-{uuid.uuid4().hex[:6]}"
        produce(a.bootstrap, topic, [b"warm-up"])  # the topic exists on A and MM2 starts copying it
        wait_for_records(b.bootstrap, topic, 1, timeout_s=120)
        producer = workload.producer("confluent", proxy.bootstrap, topic, rate=200).start()
        consumer = workload.consumer("confluent", proxy.bootstrap, topic, f"demo-group-{topic}").start()
        time.sleep(load_s / 2)
        print_readiness(proxy, "B", "readiness of B before its switch (kafka-failover-proxy readiness --to B):")
        print("switching to B (planned) under load ...")
        switch = workload.run_switch(proxy, "B", timeout_s=60)
        print(f"  switch {switch.switch_id}: {switch.outcome} ({switch.record.get('reason')})")
        print("  phases (ms): " + ", ".join(f"{k}={v}" for k, v in switch.phases_ms.items()))
        time.sleep(load_s / 2)
        print_readiness(proxy, "B", "after the switch, the rollback gate's view (readiness --to B):", only="rollback")
        producer.stop()
        consumer.wait_consumed(producer.acked_values, timeout_s=60)
        consumer.stop()
        verdict = workload.verify(b.bootstrap, topic, [producer], [consumer], switch=switch)
    finally:
        proxy.stop()
    p, c = verdict.producers[0], verdict.consumers[0]
    print("report:")
    print(f"  sent {p.sent}, acked {p.acked}, received {c.consumed} (replayed {c.replayed}, "
          f"offset resets {c.offset_resets}), in B's log {verdict.log_records - 1}")
    print(f"  lost {verdict.lost}, duplicated {verdict.duplicates}, unavailable "
          f"{p.unavailable_ms if p.unavailable_ms is None else round(p.unavailable_ms)} ms "
          f"(switch call to the first ack on B), longest ack gap {round(p.max_ack_gap_ms or 0)} ms")
    return switch.outcome == "succeeded" and verdict.lost == 0 and verdict.duplicates == 0


def print_readiness(proxy: ProxyThread, target: str, title: str, only: str | None = None) -> None:
    """The scorecard as the CLI prints it (through the admin API), or one gate of it."""
    from proxy import cli

    print(title)
    if only is None:
        code = cli.main(["readiness", "--to", target, "--admin-url", proxy.admin_url])
        print(f"  (exit code {code}: {'production candidate' if code == 0 else 'not a production candidate'})")
        return
    card = proxy.call(lambda: proxy.server.control.readiness(target))
    gate = next(g for g in card["gates"] if g["gate"] == only)
    print(f"  {gate['gate']}: {gate['score']} - {gate['rule']}")
    print(f"  evidence: {gate['evidence']}")
    if gate["raise_by"]:
        print(f"  to raise it: {gate['raise_by']}")


def live_fleet_switch(a: Cluster, b: Cluster, load_s: float, instances: int) -> bool:
    """The same switch through `instances` proxy processes sharing their state in etcd: a producer and
    a consumer through each, the switch asked of the first; True if every instance ended on B clean."""
    from harness import workload
    from harness.etcd import start_etcd
    from harness.fleet import fleet, fleet_switch
    from proxy.admin.fleet_view import fleet_view

    with start_etcd() as etcd, fleet(a, b, etcd, instances) as proxies:
        print(f"fleet: {instances} proxy instances sharing switch state in etcd {etcd.endpoint}; clients "
              f"bootstrap at {', '.join(p.bootstrap for p in proxies)}")
        topic = f"demo-fleet-{uuid.uuid4().hex[:6]}"
        produce(a.bootstrap, topic, [b"warm-up"])
        wait_for_records(b.bootstrap, topic, 1, timeout_s=120)
        producers = [workload.producer("confluent", p.bootstrap, topic, rate=100).start() for p in proxies]
        consumers = [workload.consumer("confluent", p.bootstrap, topic, f"demo-fleet-group-{topic}").start()
                     for p in proxies]
        time.sleep(load_s / 2)
        print(f"switching the fleet to B (planned), asked of {proxies[0].bootstrap} only ...")
        switch, last_flip_ms = fleet_switch(proxies, "B")
        print(f"  switch {switch.switch_id}: {switch.outcome} ({switch.record.get('reason')}); last instance "
              f"on B {round(last_flip_ms)} ms after the call")
        print("  phases (ms): " + ", ".join(f"{k}={v}" for k, v in switch.phases_ms.items()))
        view = fleet_view(proxies[-1].status())
        print("\n".join(f"  {line}" for line in view.lines))
        time.sleep(load_s / 2)
        for producer in producers:
            producer.stop()
        acked = set().union(*(p.acked_values for p in producers))
        workload.wait_until(lambda: acked <= set().union(*(c.values for c in consumers)), 60,
                            lambda: "consumers did not get every acknowledged record")
        for consumer in consumers:
            consumer.stop()
        verdict = workload.verify(b.bootstrap, topic, producers, [], switch=switch)
    print("report:")
    for p in verdict.producers:
        print(f"  {p.name}: acked {p.acked}, lost {p.lost}, duplicated {p.duplicates}, unavailable "
              f"{p.unavailable_ms if p.unavailable_ms is None else round(p.unavailable_ms)} ms")
    return switch.outcome == "succeeded" and view.agreed and verdict.lost == 0 and verdict.duplicates == 0


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
    parser.add_argument("--load-seconds", type=float, default=20.0, help="how long the load runs (switch midway)")
    parser.add_argument("--fleet", type=int, default=0, metavar="N",
                        help="switch through N proxy instances sharing their state in etcd (make demo-fleet: 3)")
    args = parser.parse_args(argv)
    a, b = start_regions()
    mirror: Mirror | None = None
    clean = False
    try:
        mirror = start_replication(a, b)
        print("round trips:")
        round_trip(a)
        round_trip(b)
        show_replication(a, b)
        clean = (live_fleet_switch(a, b, args.load_seconds, args.fleet) if args.fleet
                 else live_switch(a, b, args.load_seconds))
        if args.keep_running:
            wait_for_ctrl_c()
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])
    left = processes.live_pids()
    print("stopped; no harness process left" if not left else f"processes left: {left}")
    print("demo " + ("passed: 0 lost, 0 duplicated" if clean else "FAILED"))
    return 0 if clean and not left else 1


if __name__ == "__main__":
    sys.exit(main())
