"""Failover drill: producers and a group consumer per client library, a planned switch midway.

For each library (Java, confluent-kafka, kafka-python, aiokafka) a fresh proxy in front of A and B
(A active, MM2 A->B running) carries two sequence-numbered idempotent producers and one group
consumer; halfway through, the proxy is switched to B. B's log is the judge: acked, lost,
duplicates, consumer replays and offset resets, and per producer the unavailability window (the
admin call to its first acknowledged produce on B). A last run kills A and switches in emergency
mode, comparing what was lost with the tail the proxy itself reported.

Prints one JSON object and writes bench/results/failover_drill.json and failover_drill.png
(throughput over time, switch phases shaded). `--quick` shortens the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from harness import workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.mirror import start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import ProducerWorker, SwitchRun

RESULTS = Path(__file__).parent / "results"
PRODUCERS_PER_LIBRARY = 2


def seed_topic(a: Cluster, b: Cluster, topic: str) -> None:
    """Create the topic on A with a first record and wait until MM2 has it on B."""
    import confluent_kafka

    producer = confluent_kafka.Producer({"bootstrap.servers": a.bootstrap, "log_level": 3})
    producer.produce(topic, b"seed")
    producer.flush(30)
    wait_for_records(b.bootstrap, topic, 1, timeout_s=120)


def drill(library: str, a: Cluster, b: Cluster, load_s: float, mode: str = "planned") -> dict[str, Any]:
    topic = f"drill-{library}-{uuid.uuid4().hex[:6]}"
    seed_topic(a, b, topic)
    proxy = ProxyThread(proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A",
                                     mirrors=[{"source": "A", "target": "B"}])).start()
    try:
        producers = [workload.producer(library, proxy.bootstrap, topic, rate=150).start()
                     for _ in range(PRODUCERS_PER_LIBRARY)]
        consumer = workload.consumer(library, proxy.bootstrap, topic, f"drill-{topic}").start()
        time.sleep(load_s / 2)
        if mode == "emergency":
            a.kill()
        switch = workload.run_switch(proxy, "B", mode=mode, timeout_s=60)
        time.sleep(load_s / 2)
        for producer in producers:
            producer.stop()
        if mode == "planned":
            consumer.wait_consumed(set().union(*(p.acked_values for p in producers)), timeout_s=90)
        consumer.stop()
        verdict = workload.verify(b.bootstrap, topic, producers, [consumer], switch=switch)
    finally:
        proxy.stop()
    return summarize(library, verdict.to_dict(), switch, producers)


def summarize(library: str, verdict: dict[str, Any], switch: SwitchRun, producers: list[ProducerWorker]
              ) -> dict[str, Any]:
    windows = sorted(p["unavailable_ms"] for p in verdict["producers"] if p["unavailable_ms"] is not None)
    consumer = verdict["consumers"][0]
    tail = switch.record.get("evidence", {}).get("emergency_tail", {})
    return {
        "library": library, "outcome": switch.outcome, "mode": switch.record.get("mode"),
        "acked": sum(p["acked"] for p in verdict["producers"]), "lost": verdict["lost"],
        "duplicates": verdict["duplicates"], "consumer_replayed": consumer["replayed"],
        "offset_resets": consumer["offset_resets"],
        "unavailable_ms_p50": round(statistics.median(windows)) if windows else None,
        "unavailable_ms_p99": round(windows[-1]) if windows else None,
        "phases_ms": switch.phases_ms, "reported_tail": tail.get("total_known"),
        "timeline": timeline(producers, switch),
    }


def timeline(producers: list[ProducerWorker], switch: SwitchRun) -> dict[str, Any]:
    """Acks per 250 ms bucket relative to the switch call, and the phase boundaries."""
    acks = sorted(ack.at - switch.called_at for p in producers for ack in p.acks)
    buckets: dict[float, int] = {}
    if acks:  # every bucket from the first ack to the last, so a silent window shows as zero
        first, last = round(acks[0] * 4), round(acks[-1] * 4)
        buckets = {step / 4: 0 for step in range(first, last + 1)}
    for at in acks:
        key = round(at * 4) / 4
        buckets[key] = buckets.get(key, 0) + 1
    requested = int(switch.record["requested_at_ms"])
    phases = [(p["phase"], (p["start_ms"] - requested) / 1000,
               ((p["end_ms"] or p["start_ms"]) - requested) / 1000) for p in switch.record["phases"]]
    return {"buckets": sorted(buckets.items()), "phases": phases}


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.4 * len(results)), squeeze=False)
    colors = {"fence": "#f4cccc", "drain": "#fce5cd", "catch_up": "#fff2cc", "switch": "#d9ead3"}
    for ax, result in zip(axes[:, 0], results, strict=True):
        xs = [x for x, _ in result["timeline"]["buckets"]]
        ys = [n * 4 for _, n in result["timeline"]["buckets"]]
        ax.plot(xs, ys, linewidth=1)
        for phase, start, end in result["timeline"]["phases"]:
            if phase in colors:
                ax.axvspan(start, max(end, start + 0.02), color=colors[phase], label=phase)
        ax.set_title(f"{result['library']} ({result['mode']}): lost {result['lost']}, dup {result['duplicates']}, "
                     f"unavailable p99 {result['unavailable_ms_p99']} ms", fontsize=9)
        ax.set_ylabel("acks/s")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds from the switch call")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover_drill", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 s of load per library instead of 30 s")
    parser.add_argument("--libraries", default=",".join(workload.LIBRARIES))
    args = parser.parse_args(argv)
    load_s = 10.0 if args.quick else 30.0
    a, b = start_clusters([ClusterSpec("A", (1,)), ClusterSpec("B", (1,))])
    mirror = None
    results: list[dict[str, Any]] = []
    try:
        mirror = start_mirror(a, b)
        for library in args.libraries.split(","):
            results.append(drill(library, a, b, load_s))
        results.append(drill("confluent", a, b, load_s, mode="emergency"))
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])
    RESULTS.mkdir(exist_ok=True)
    summary = {r["library"] + ("" if r["mode"] == "planned" else "-emergency"):
               {k: v for k, v in r.items() if k != "timeline"} for r in results}
    (RESULTS / "failover_drill.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(results, RESULTS / "failover_drill.png")
    print(json.dumps(summary))
    planned_clean = all(r["lost"] == 0 and r["duplicates"] == 0 for r in results if r["mode"] == "planned")
    switched = all(r["outcome"] == "succeeded" for r in results)
    if not switched:
        print("failover drill: a switch did not succeed: " + ", ".join(
            f"{r['library']} {r['mode']} {r['outcome']}" for r in results if r["outcome"] != "succeeded"),
            file=sys.stderr)
    return 0 if planned_clean and switched else 1


if __name__ == "__main__":
    sys.exit(main())
