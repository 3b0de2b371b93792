"""Failover drill: every client library in every shape, planned switches A -> B, judged from B's log.

The pair is the production shape the switch tests use: A with nodes 1, 2, 3, B with nodes 11, 12,
topics of 6 partitions with replication factor 2, MirrorMaker 2 A -> B. For each library
(confluent-kafka, kafka-python, aiokafka, Java, franz-go) the drill runs `--rounds` rounds; a round
is a fresh proxy (A active) and topic, `--producers` idempotent producers cycling through every
codec the library can write (none, gzip, snappy, lz4, zstd), one group consumer per group shape
the library speaks (classic range, classic cooperative-sticky, KIP-848), every client at its
default client.id, and a planned switch to B halfway. That is the full cross-product library x
codec x group protocol, and rounds x producers >= 20 unavailability samples per library (the
admin call to a producer's first acknowledgement on B), from which p50 and p99 are taken. A last
run kills A and switches in emergency mode, comparing what was lost with the tail the proxy reported.

Prints one JSON object and writes bench/results/failover_drill.json and failover_drill.png
(throughput over time of each library's first round, switch phases shaded). Exits 1 when a switch
did not succeed, a planned switch lost, duplicated, reset or replayed a record, a client died, or a
producer never got an acknowledgement after the flip (no sample). `--quick` shortens the load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness import workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters, wait_for_topic
from harness.mirror import start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import ConsumerWorker, ProducerWorker, SwitchRun, wait_until

RESULTS = Path(__file__).parent / "results"
MIN_SAMPLES = 20
PARTITIONS, REPLICATION = 6, 2
RATE = 40.0  # per producer: five producers write 200 records/s, the switch tests' rate
CONSUME_WAIT_S = 60.0


@dataclass(frozen=True)
class GroupShape:
    protocol: str
    assignor: str | None

    def __str__(self) -> str:
        return self.assignor or "kip848"


RANGE, COOPERATIVE, KIP848 = GroupShape("classic", "range"), GroupShape("classic", "cooperative-sticky"), \
    GroupShape("consumer", None)


def codecs(library: str) -> tuple[str, ...]:
    """kafka-python writes snappy, lz4 and zstd only with optional packages this project does not install."""
    if library == "kafka-python":
        import kafka.codec

        return tuple(c for c, ok in (("none", True), ("gzip", True), ("snappy", kafka.codec.has_snappy()),
                                     ("lz4", kafka.codec.has_lz4()), ("zstd", kafka.codec.has_zstd())) if ok)
    return workload.CODECS


def group_shapes(library: str) -> list[GroupShape]:
    """aiokafka has no cooperative protocol; kafka-python and aiokafka no KIP-848."""
    shapes = [RANGE] if library == "aiokafka" else [RANGE, COOPERATIVE]
    return shapes + ([KIP848] if library in workload.KIP848_LIBRARIES else [])


def percentile(samples: list[float], q: float) -> float | None:
    """Nearest rank: the smallest sample with at least q% of the samples at or below it."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def create_topic(a: Cluster, b: Cluster, topic: str) -> None:
    """6 partitions, RF 2 on A with a first record; wait until MM2 has it on B."""
    import confluent_kafka

    admin = AdminClient({"bootstrap.servers": a.bootstrap, "log_level": 3})
    admin.create_topics([NewTopic(topic, PARTITIONS, REPLICATION)])[topic].result(60)
    wait_for_topic(a, topic)
    producer = confluent_kafka.Producer({"bootstrap.servers": a.bootstrap, "log_level": 3})
    producer.produce(topic, b"seed")
    producer.flush(30)
    wait_for_records(b.bootstrap, topic, 1, timeout_s=120)


def wait_all_consumed(consumers: list[ConsumerWorker], values: set[bytes]) -> None:
    """One deadline for every consumer: a dead one must not cost a minute per group."""
    with contextlib.suppress(TimeoutError):  # the verdict counts what each consumer is missing
        wait_until(lambda: all(values <= c.values for c in consumers), CONSUME_WAIT_S, lambda: "")


def one_round(library: str, a: Cluster, b: Cluster, load_s: float, producers_n: int, mode: str = "planned"
              ) -> dict[str, Any]:
    topic = f"drill-{library}-{uuid.uuid4().hex[:6]}"
    create_topic(a, b, topic)
    proxy = ProxyThread(proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A",
                                     mirrors=[{"source": "A", "target": "B"}])).start()
    try:
        kinds = codecs(library)
        producers = [workload.producer(library, proxy.bootstrap, topic, rate=RATE, compression=kinds[i % len(kinds)])
                     for i in range(producers_n)]
        shapes = group_shapes(library) if mode == "planned" else [RANGE]
        consumers = [workload.consumer(library, proxy.bootstrap, topic, f"drill-{topic}-{shape}",
                                       group_protocol=shape.protocol, assignor=shape.assignor)
                     for shape in shapes]
        for worker in [*consumers, *producers]:
            worker.start()
        for producer in producers:  # a JVM or a client may take seconds to start on a loaded machine
            producer.wait_acked(1, 120)
        time.sleep(load_s / 2)
        if mode == "emergency":
            a.kill()
        switch = workload.run_switch(proxy, "B", mode=mode, timeout_s=60)
        time.sleep(load_s / 2)
        for producer in producers:
            producer.stop()
        if mode == "planned":
            wait_all_consumed(consumers, set().union(*(p.acked_values for p in producers)))
        for consumer in consumers:
            consumer.stop()
        verdict = workload.verify(b.bootstrap, topic, producers, consumers, switch=switch)
    finally:
        proxy.stop()
    return judge_round(verdict.to_dict(), switch, producers, consumers, shapes)


def judge_round(verdict: dict[str, Any], switch: SwitchRun, producers: list[ProducerWorker],
                consumers: list[ConsumerWorker], shapes: list[GroupShape]) -> dict[str, Any]:
    tail = switch.record.get("evidence", {}).get("emergency_tail", {})
    flip_ms = None if switch.flipped_at is None else round((switch.flipped_at - switch.called_at) * 1000)
    return {
        "outcome": switch.outcome, "mode": switch.record.get("mode"), "reason": switch.record.get("reason"),
        "phases_ms": switch.phases_ms, "reported_tail": tail.get("total_known"), "flip_ms": flip_ms,
        "checks": {k: switch.record.get("evidence", {}).get(k, {}).get("checks")
                   for k in ("transactions", "mirror", "group_offsets")},
        "producers": [{"codec": worker.compression, "acked": p["acked"], "lost": p["lost"],
                       "duplicates": p["duplicates"], "fatal": p["fatal"], "unavailable_ms": p["unavailable_ms"],
                       "after_flip_ms": _after(p["unavailable_ms"], flip_ms),
                       "first_error_ms": first_error_ms(worker, switch)}
                      for worker, p in zip(producers, verdict["producers"], strict=True)],
        "consumers": [{"group": str(shape), "offset_resets": c["offset_resets"], "replayed": c["replayed"],
                       "unconsumed": c["unconsumed"], "fatal": c["fatal"], "errors": c["errors"],
                       "diagnosis": consumer_diagnosis(worker, c, switch)}
                      for shape, worker, c in zip(shapes, consumers, verdict["consumers"], strict=True)],
        "errors_sample": [e for worker in [*producers, *consumers] for e in worker.errors[-2:]][:6],
        "timeline": timeline(producers, switch),
    }


def consumer_diagnosis(worker: ConsumerWorker, report: dict[str, Any], switch: SwitchRun) -> dict[str, Any]:
    """What a consumer held when (seconds from the switch call), what it got first, and for one that
    missed records also its errors and the library's own account of its rebalances."""
    records = worker.records
    diagnosis: dict[str, Any] = {
        "assignments": [[round(a.at - switch.called_at, 2), list(a.partitions)] for a in worker.assignments],
        "first_record_s": round(records[0].at - switch.called_at, 2) if records else None,
        "consumed": len(records)}
    if report["unconsumed"] or report["fatal"]:
        lines = worker.diagnostics
        diagnosis |= {"errors": report["errors_sample"],
                      "library_log": [*lines[:15], "...", *lines[-15:]] if len(lines) > 30 else lines}
    return diagnosis


def _after(unavailable_ms: float | None, flip_ms: int | None) -> int | None:
    """The client's share of a window: from the flip to its first acknowledgement on the target."""
    return None if unavailable_ms is None or flip_ms is None else round(unavailable_ms - flip_ms)


def first_error_ms(worker: ProducerWorker, switch: SwitchRun) -> int | None:
    """The producer's first reported error after the switch call (ms from it), if it reported one."""
    for line in worker.errors:
        stamp = float(line.split(" ", 1)[0])
        if stamp >= switch.called_at:
            return round((stamp - switch.called_at) * 1000)
    return None


def summarize(library: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the rounds, p50/p99 over every producer's window, and per codec and group shape."""
    producers = [p for r in rounds for p in r["producers"]]
    consumers = [c for r in rounds for c in r["consumers"]]
    windows = [p["unavailable_ms"] for p in producers if p["unavailable_ms"] is not None]
    planned = rounds[0]["mode"] == "planned"
    flips = [r["flip_ms"] for r in rounds if r["flip_ms"] is not None]
    after = [p["after_flip_ms"] for p in producers if p["after_flip_ms"] is not None]
    summary = {
        "library": library, "mode": rounds[0]["mode"], "switches": len(rounds),
        "outcomes": sorted({r["outcome"] for r in rounds}),
        "reasons": sorted({r["reason"] for r in rounds if r["outcome"] != "succeeded"}),
        "acked": sum(p["acked"] for p in producers), "lost": sum(p["lost"] for p in producers),
        "duplicates": sum(p["duplicates"] for p in producers),
        "offset_resets": sum(c["offset_resets"] for c in consumers),
        "consumer_replayed": sum(c["replayed"] for c in consumers),
        "unconsumed": sum(c["unconsumed"] for c in consumers),
        "fatal": [x["fatal"] for x in [*producers, *consumers] if x["fatal"]][:3],
        "samples": len(windows), "producers": len(producers),
        "unavailable_ms_p50": _rounded(percentile(windows, 50)),
        "unavailable_ms_p99": _rounded(percentile(windows, 99)),
        "flip_ms_p50": _rounded(percentile(flips, 50)), "flip_ms_max": max(flips, default=None),
        "after_flip_ms_p50": _rounded(percentile(after, 50)), "after_flip_ms_p99": _rounded(percentile(after, 99)),
        "by_codec": {codec: {"producers": len(ps), "lost": sum(p["lost"] for p in ps),
                             "duplicates": sum(p["duplicates"] for p in ps),
                             "p50_ms": _rounded(percentile([p["unavailable_ms"] for p in ps
                                                            if p["unavailable_ms"] is not None], 50))}
                     for codec in sorted({p["codec"] for p in producers})
                     for ps in [[p for p in producers if p["codec"] == codec]]},
        "by_group": {group: {k: sum(c[k] for c in cs) for k in ("offset_resets", "replayed", "unconsumed")}
                     | {"fatal": sum(bool(c["fatal"]) for c in cs)}
                     for group in sorted({c["group"] for c in consumers})
                     for cs in [[c for c in consumers if c["group"] == group]]},
        "phases_ms": [r["phases_ms"] for r in rounds], "checks": [r["checks"] for r in rounds],
        "after_flip_ms": [[p["after_flip_ms"] for p in r["producers"]] for r in rounds],
        "reported_tail": rounds[0]["reported_tail"],
        "errors_sample": [e for r in rounds for e in r["errors_sample"]][:4],
        "unconsumed_diagnosis": [{"round": i, "group": c["group"], "unconsumed": c["unconsumed"]} | c["diagnosis"]
                                 for i, r in enumerate(rounds, 1) for c in r["consumers"]
                                 if c["unconsumed"] or c["fatal"]],
    }
    summary["problems"] = problems(summary, planned)
    return summary


def problems(summary: dict[str, Any], planned: bool) -> list[str]:
    """Why this library's drill is not clean; empty when it is."""
    found = []
    if summary["outcomes"] != ["succeeded"]:
        found.append(f"switch outcomes {summary['outcomes']}")
    if planned:
        for key in ("lost", "duplicates", "offset_resets", "consumer_replayed", "unconsumed"):
            if summary[key]:
                found.append(f"{key}={summary[key]}")
        if summary["fatal"]:
            found.append(f"fatal client errors: {summary['fatal']}")
        if summary["samples"] < summary["producers"]:
            found.append(f"{summary['producers'] - summary['samples']} producer(s) never acknowledged after the flip")
    return found


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


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


def plot(runs: list[tuple[dict[str, Any], dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 2.4 * len(runs)), squeeze=False)
    colors = {"fence": "#f4cccc", "drain": "#fce5cd", "catch_up": "#fff2cc", "switch": "#d9ead3"}
    for ax, (summary, first) in zip(axes[:, 0], runs, strict=True):
        xs = [x for x, _ in first["timeline"]["buckets"]]
        ys = [n * 4 for _, n in first["timeline"]["buckets"]]
        ax.plot(xs, ys, linewidth=1)
        for phase, start, end in first["timeline"]["phases"]:
            if phase in colors:
                ax.axvspan(start, max(end, start + 0.02), color=colors[phase], label=phase)
        ax.set_title(f"{summary['library']} ({summary['mode']}): lost {summary['lost']}, dup {summary['duplicates']}, "
                     f"unavailable p50 {summary['unavailable_ms_p50']} / p99 {summary['unavailable_ms_p99']} ms "
                     f"({summary['samples']} samples)", fontsize=9)
        ax.set_ylabel("acks/s")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds from the switch call")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def log_switch_steps() -> None:
    """The proxy's switch log (phases, each check's steps with durations) on stderr: where a window went."""
    from proxy.log import switch

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    switch.addHandler(handler)
    switch.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover_drill", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 s of load per round instead of 30 s")
    parser.add_argument("--libraries", default=",".join(workload.ALL_LIBRARIES))
    parser.add_argument("--rounds", type=int, default=4, help="planned switches per library")
    parser.add_argument("--producers", type=int, default=5, help="producers per round (codecs cycle)")
    parser.add_argument("--no-emergency", action="store_true", help="skip the emergency run that kills A")
    args = parser.parse_args(argv)
    if args.rounds * args.producers < MIN_SAMPLES:
        parser.error(f"--rounds x --producers must give at least {MIN_SAMPLES} samples per library")
    load_s = 8.0 if args.quick else 30.0
    log_switch_steps()
    a, b = start_clusters([ClusterSpec("A", (1, 2, 3)), ClusterSpec("B", (11, 12))])
    mirror = None
    runs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    try:
        mirror = start_mirror(a, b)
        for library in args.libraries.split(","):
            rounds = [one_round(library, a, b, load_s, args.producers) for _ in range(args.rounds)]
            runs.append((summarize(library, rounds), rounds[0]))
            print(json.dumps(runs[-1][0]), flush=True)
        if not args.no_emergency:
            emergency = one_round("confluent", a, b, load_s, 2, mode="emergency")
            runs.append((summarize("confluent", [emergency]), emergency))
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])
    RESULTS.mkdir(exist_ok=True)
    summary = {s["library"] + ("" if s["mode"] == "planned" else "-emergency"): s for s, _ in runs}
    (RESULTS / "failover_drill.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(runs, RESULTS / "failover_drill.png")
    print(json.dumps({name: {k: s[k] for k in ("lost", "duplicates", "offset_resets", "samples",
                                                "unavailable_ms_p50", "unavailable_ms_p99", "problems")}
                      for name, s in summary.items()}))
    failing = {name: s["problems"] for name, s in summary.items() if s["problems"]}
    for name, found in failing.items():
        print(f"failover drill: {name}: {'; '.join(found)}", file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
