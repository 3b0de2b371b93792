"""Fleet drill: what a fleet of proxies sharing switch state in etcd adds to a planned switch.

The failover drill's rounds (bench/failover_drill.py: the 3+2-node pair, 6 partitions RF 2, every
codec and group shape of a library, default client ids), run twice per library on the same
clusters: through one proxy, and through `--instances` proxy processes sharing one etcd, clients
spread round-robin over the instances and the switch asked of the first. A fleet round also times
the switch call to the last instance serving B. Prints, per library, both summaries and what the
fleet adds to the producers' unavailability (p50 and p99; target <= 300 ms), writes
bench/results/fleet_drill.json, and exits 1 when a round was not clean (the failover drill's rules).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

from bench.failover_drill import (
    RATE,
    RESULTS,
    codecs,
    create_topic,
    group_shapes,
    judge_round,
    one_round,
    summarize,
    wait_all_consumed,
)
from harness import workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.etcd import Etcd, start_etcd
from harness.fleet import fleet, fleet_switch
from harness.mirror import start_mirror

FLEET_TARGET_MS = 300


def fleet_round(library: str, a: Cluster, b: Cluster, etcd: Etcd, load_s: float, producers_n: int,
                instances: int) -> dict[str, Any]:
    """The failover drill's planned round, with the clients spread over a fleet."""
    topic = f"fleet-{library}-{uuid.uuid4().hex[:6]}"
    create_topic(a, b, topic)
    with fleet(a, b, etcd, instances) as proxies:
        kinds = codecs(library)
        producers = [workload.producer(library, proxies[i % instances].bootstrap, topic, rate=RATE,
                                       compression=kinds[i % len(kinds)]) for i in range(producers_n)]
        shapes = group_shapes(library)
        consumers = [workload.consumer(library, proxies[i % instances].bootstrap, topic, f"fleet-{topic}-{shape}",
                                       group_protocol=shape.protocol, assignor=shape.assignor)
                     for i, shape in enumerate(shapes)]
        for worker in [*consumers, *producers]:
            worker.start()
        for producer in producers:
            producer.wait_acked(1, 120)
        time.sleep(load_s / 2)
        switch, last_flipped_ms = fleet_switch(proxies, "B")
        time.sleep(load_s / 2)
        for producer in producers:
            producer.stop()
        wait_all_consumed(consumers, set().union(*(p.acked_values for p in producers)))
        for consumer in consumers:
            consumer.stop()
        verdict = workload.verify(b.bootstrap, topic, producers, consumers, switch=switch)
    judged = judge_round(verdict.to_dict(), switch, producers, consumers, shapes)
    judged["last_instance_flipped_ms"] = round(last_flipped_ms)
    return judged


def compare(single: dict[str, Any], fleet_summary: dict[str, Any], rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def added(key: str) -> int | None:
        a, b = single[key], fleet_summary[key]
        return None if a is None or b is None else b - a

    flips = [r["last_instance_flipped_ms"] for r in rounds]
    return {"fleet_adds_ms_p50": added("unavailable_ms_p50"), "fleet_adds_ms_p99": added("unavailable_ms_p99"),
            "last_instance_flipped_ms": flips, "target_ms": FLEET_TARGET_MS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_drill", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 s of load per round instead of 30 s")
    parser.add_argument("--libraries", default=",".join(workload.ALL_LIBRARIES))
    parser.add_argument("--rounds", type=int, default=2, help="rounds per library, each way")
    parser.add_argument("--producers", type=int, default=5, help="producers per round (codecs cycle)")
    parser.add_argument("--instances", type=int, default=3, help="proxy processes in the fleet")
    args = parser.parse_args(argv)
    load_s = 8.0 if args.quick else 30.0
    a, b = start_clusters([ClusterSpec("A", (1, 2, 3)), ClusterSpec("B", (11, 12))])
    etcd = mirror = None
    report: dict[str, Any] = {}
    failing: dict[str, list[str]] = {}
    try:
        etcd = start_etcd()
        mirror = start_mirror(a, b)
        for library in args.libraries.split(","):
            single = summarize(library, [one_round(library, a, b, load_s, args.producers)
                                         for _ in range(args.rounds)])
            rounds = [fleet_round(library, a, b, etcd, load_s, args.producers, args.instances)
                      for _ in range(args.rounds)]
            in_fleet = summarize(library, rounds)
            report[library] = {"single": single, f"fleet{args.instances}": in_fleet,
                               **compare(single, in_fleet, rounds)}
            for name, summary in ((library, single), (f"{library}-fleet", in_fleet)):
                if summary["problems"]:
                    failing[name] = summary["problems"]
            print(json.dumps({library: {k: v for k, v in report[library].items()
                                        if k.startswith(("fleet_", "last_"))}}), flush=True)
    finally:
        if mirror is not None:
            mirror.stop()
        if etcd is not None:
            etcd.close()
        stop_clusters([a, b])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fleet_drill.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, found in failing.items():
        print(f"fleet drill: {name}: {'; '.join(found)}", file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
