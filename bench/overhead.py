"""What the proxy costs: the same load direct to cluster A and through the proxy, run in pairs.

    .venv/bin/python -m bench.overhead [--quick] [--profile] [--tls]

One single-node Kafka 4.4 cluster (A), one proxy in its own process (harness.proxy_process), one
6-partition topic, 1 KiB records, acks=all. Each pair runs the same load once direct and once
through the proxy, alternating which goes first, so drift on this shared machine hits both sides:

- Java ProducerPerformance (unthrottled) and ConsumerPerformance (fresh group, from the earliest
  offset; MB/s is the fetch rate, group join excluded): throughput pairs.
- confluent-kafka producer and consumer in this process: throughput pairs.
- Latency: ProducerPerformance throttled to half the median direct record rate, p50/p99 (whole
  milliseconds, as the tool prints them), while a confluent-kafka probe sends one record at a time
  and times each acknowledgement (sub-millisecond resolution).

Every ratio is the median over pairs of proxy/direct within the pair. Each proxied run also records
the proxy's CPU seconds per GiB relayed (from /proc/<pid>/stat), a figure the noise of a shared
machine barely moves, and `proxy_one_core_mb_s`, the rate at which that cost would fill one core.
Prints one JSON object and writes bench/results/overhead.json and overhead.png. `--profile` then
runs three loads through the proxy (Java producer, confluent-kafka producer, confluent-kafka
consumer) while py-spy samples it: bench/results/profile-<load>.raw (collapsed stacks),
profile.svg (flame graph, Java producer) and profile.txt (hot spots and the proxy's CPU share).
Targets (issue 6): producer and consumer ratio >= 0.95, added p50 <= 0.2 ms, added p99 <= 1 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench import overhead_tls, plots, profile, python_load
from bench.machine import load_average, machine_info, other_jvms
from harness import tools
from harness.cluster import ClusterSpec, start_clusters, stop_clusters
from harness.proxy_process import ProxyProcess, start_proxy

RESULTS = Path(__file__).parent / "results"
TOPIC = "bench-overhead"
PARTITIONS = 6
RECORD_SIZE = 1024
ACKS_ALL = {"acks": "all"}
BROKER_OVERRIDES = {"log.retention.check.interval.ms": "15000"}  # retention.bytes applies within a run
JVM_START_S = 3.0  # the latency probe waits this long for ProducerPerformance to be sending


@dataclass(frozen=True)
class Plan:
    pairs: int
    java_records: int
    python_pairs: int
    python_records: int
    python_consume_records: int  # more than produced per run: librdkafka reads ~1 GB/s, runs must last
    latency_pairs: int
    latency_seconds: int


QUICK = Plan(pairs=3, java_records=150_000, python_pairs=4, python_records=600_000,
             python_consume_records=1_200_000, latency_pairs=2, latency_seconds=6)
FULL = Plan(pairs=5, java_records=500_000, python_pairs=7, python_records=2_000_000,
            python_consume_records=3_000_000, latency_pairs=3, latency_seconds=20)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def paired(run: Callable[[str], float], direct: str, proxy: str, pairs: int) -> tuple[list[float], list[float]]:
    """`pairs` runs on each side; odd pairs run the proxy first, so neither side always goes second."""
    direct_runs: list[float] = []
    proxy_runs: list[float] = []
    for i in range(pairs):
        order = [(direct, direct_runs), (proxy, proxy_runs)]
        for bootstrap, runs in order if i % 2 == 0 else reversed(order):
            runs.append(run(bootstrap))
    return direct_runs, proxy_runs


def comparison(direct_runs: list[float], proxy_runs: list[float]) -> dict[str, Any]:
    ratios = [p / d for d, p in zip(direct_runs, proxy_runs, strict=True) if d > 0]
    return {"direct_mb_s": round(median(direct_runs), 2), "proxy_mb_s": round(median(proxy_runs), 2),
            "ratio": round(median(ratios), 3), "pair_ratios": [round(r, 3) for r in ratios],
            "direct_runs": [round(x, 2) for x in direct_runs], "proxy_runs": [round(x, 2) for x in proxy_runs]}


# -- Java tools ---------------------------------------------------------------------------------------


def java_produce(bootstrap: str, records: int, throughput: int = -1) -> tools.ProducerPerformanceResult:
    return tools.producer_performance(bootstrap, TOPIC, records, RECORD_SIZE, throughput, properties=ACKS_ALL)


def java_consume_mb_s(bootstrap: str, records: int) -> float:
    return tools.consumer_performance(bootstrap, TOPIC, records).fetch_mb_sec


def latency_pair(bootstrap: str, records: int, rate: int) -> dict[str, Any]:
    """One throttled ProducerPerformance run with the confluent-kafka probe running alongside."""
    result, probe = python_load.while_running(
        lambda: java_produce(bootstrap, records, rate),
        lambda going: python_load.probe_latencies_ms(bootstrap, TOPIC, going, delay_s=JVM_START_S))
    quantiles = statistics.quantiles(probe, n=100)
    return {"java": result, "probe_p50_ms": quantiles[49], "probe_p99_ms": quantiles[98], "probes": len(probe)}


def latency(direct: str, proxy: str, plan: Plan, direct_records_per_s: float) -> dict[str, Any]:
    rate = max(1000, int(direct_records_per_s / 2))
    records = rate * plan.latency_seconds
    runs: dict[str, list[dict[str, Any]]] = {"direct": [], "proxy": []}

    def run(bootstrap: str) -> float:
        runs["direct" if bootstrap == direct else "proxy"].append(latency_pair(bootstrap, records, rate))
        return 0.0

    paired(run, direct, proxy, plan.latency_pairs)
    out: dict[str, Any] = {"latency_records_per_s": rate, "latency_records": records}
    for side, results in runs.items():
        out[f"{side}_p50_ms"] = median([r["java"].p50_ms for r in results])
        out[f"{side}_p99_ms"] = median([r["java"].p99_ms for r in results])
        out[f"{side}_avg_ms"] = round(median([r["java"].avg_latency_ms for r in results]), 2)
        for q in ("p50", "p99"):
            out[f"probe_{side}_{q}_ms"] = round(median([r[f"probe_{q}_ms"] for r in results]), 3)
            out[f"probe_{side}_{q}_runs"] = [round(r[f"probe_{q}_ms"], 3) for r in results]
        out[f"probe_{side}_samples"] = sum(r["probes"] for r in results)
    for q in ("p50", "p99"):  # paired: the median over pairs of (proxy - direct) in the same pair
        added = [p[f"probe_{q}_ms"] - d[f"probe_{q}_ms"] for d, p in zip(runs["direct"], runs["proxy"], strict=True)]
        out[f"added_{q}_ms"] = round(median(added), 3)
    return out


# -- the run ------------------------------------------------------------------------------------------


def create_topic(bootstrap: str) -> None:
    """6 partitions; 64 MiB segments and 1 GiB per partition keep a full run's disk use bounded."""
    config = {"segment.bytes": str(64 << 20), "retention.bytes": str(1 << 30)}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1, config=config)])[TOPIC].result(60)


class Phases:
    """Wall time of each phase of the run (what --quick spends its five minutes on)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 1)
        self._last = now


def metered(run: Callable[[str], float], proxy: ProxyProcess, mib: float, cpu: list[float]
            ) -> Callable[[str], float]:
    """`run`, noting the proxy's CPU seconds per GiB relayed on every proxied run (into `cpu`)."""
    def wrapped(bootstrap: str) -> float:
        if bootstrap != proxy.bootstrap:
            return run(bootstrap)
        before = proxy.cpu_seconds()
        value = run(bootstrap)
        cpu.append((proxy.cpu_seconds() - before) / (mib / 1024))
        return value
    return wrapped


def compare(run: Callable[[str], float], direct: str, proxy: ProxyProcess, pairs: int, records: int
            ) -> dict[str, Any]:
    cpu: list[float] = []
    runs = paired(metered(run, proxy, records * RECORD_SIZE / 2**20, cpu), direct, proxy.bootstrap, pairs)
    cpu_s_per_gib = median(cpu)
    return {**comparison(*runs), "proxy_cpu_s_per_gib": round(cpu_s_per_gib, 2),
            "proxy_one_core_mb_s": round(1024 / cpu_s_per_gib) if cpu_s_per_gib > 0 else None}


def measure(direct: str, proxy: ProxyProcess, plan: Plan) -> dict[str, Any]:
    phases = Phases()
    java_produce(direct, plan.java_records // 2)  # warm the broker (JIT, page cache), fill the topic
    direct_rates: list[float] = []

    def produce(bootstrap: str) -> float:
        result = java_produce(bootstrap, plan.java_records)
        if bootstrap == direct:
            direct_rates.append(result.records_per_sec)
        return result.mb_per_sec

    phases.done("warm_up")
    producer = compare(produce, direct, proxy, plan.pairs, plan.java_records)
    phases.done("java_producer")
    consumer = compare(lambda b: java_consume_mb_s(b, plan.java_records), direct, proxy, plan.pairs,
                       plan.java_records)
    phases.done("java_consumer")
    lat = latency(direct, proxy.bootstrap, plan, median(direct_rates))
    producer.update({k: lat[k] for k in ("direct_p50_ms", "proxy_p50_ms", "direct_p99_ms", "proxy_p99_ms")})
    phases.done("latency")
    n, pairs = plan.python_records, plan.python_pairs
    py_producer = compare(lambda b: python_load.produce_mb_s(b, TOPIC, n), direct, proxy, pairs, n)
    phases.done("python_producer")
    m = plan.python_consume_records
    py_consumer = compare(lambda b: python_load.consume_mb_s(b, TOPIC, m), direct, proxy, pairs, m)
    phases.done("python_consumer")
    python = {"producer_ratio": py_producer["ratio"], "consumer_ratio": py_consumer["ratio"],
              "producer": py_producer, "consumer": py_consumer}
    return {"producer": producer, "consumer": consumer, "latency": lat, "python": python, "phase_s": phases.seconds}


def verdict(result: dict[str, Any]) -> dict[str, bool]:
    lat = result["latency"]
    return {"producer_ratio>=0.95": result["producer"]["ratio"] >= 0.95,
            "consumer_ratio>=0.95": result["consumer"]["ratio"] >= 0.95,
            "added_p50<=0.2ms": lat["added_p50_ms"] <= 0.2, "added_p99<=1ms": lat["added_p99_ms"] <= 1.0}


def draw(result: dict[str, Any], path: Path) -> Path:
    def bars(label: str, section: dict[str, Any]) -> plots.PairedBar:
        return plots.PairedBar(label, section["direct_runs"], section["proxy_runs"], f"x{section['ratio']:.2f}")

    def latency_bars(q: str) -> list[plots.PairedBar]:
        return [plots.PairedBar(f"probe {q}", lat[f"probe_direct_{q}_runs"], lat[f"probe_proxy_{q}_runs"],
                                f"{lat[f'added_{q}_ms']:+.2f} ms")]

    lat = result["latency"]
    panels = [
        ([bars("producer", result["producer"]), bars("consumer", result["consumer"])], "MB/s",
         "Java perf tools"),
        ([bars("producer", result["python"]["producer"]), bars("consumer", result["python"]["consumer"])], "MB/s",
         "confluent-kafka"),
        (latency_bars("p50"), "ms", f"latency at {lat['latency_records_per_s']} rec/s"),
        (latency_bars("p99"), "ms", "(1 KiB, acks=all, one at a time)"),
    ]
    machine, plan = result["machine"], result["plan"]
    title = (f"proxy overhead: median and min..max over {plan['pairs']} pairs (Java), {plan['python_pairs']} "
             f"(confluent-kafka), {plan['latency_pairs']} (latency); note = paired ratio or added ms. "
             f"{machine['cpus']} CPUs shared with other engineers, load {machine['load_before'][0]:.1f} -> "
             f"{machine['load_after'][0]:.1f}")
    return plots.save_figure(panels, path, title)


def _repeat_for(seconds: float, load: Callable[[], float]) -> Callable[[], list[float]]:
    def run() -> list[float]:
        deadline = time.monotonic() + seconds
        results: list[float] = []
        while time.monotonic() < deadline:
            results.append(load())
        return results
    return run


def profile_scenario(proxy: ProxyProcess, name: str, load: Callable[[], float], seconds: int, svg: bool
                     ) -> str:
    """Run `load` through the proxy for long enough and py-spy it; the text summary (CPU share first)."""
    raw = RESULTS / f"profile-{name}.raw"
    windows = 2 if svg else 1
    cpu: list[float] = []

    def sample(_going: Callable[[], bool]) -> list[float]:
        time.sleep(6)  # past JVM start-up or group join, into steady load
        before, start = proxy.cpu_seconds(), time.monotonic()
        profile.record(proxy.pid, raw, seconds, raw=True)
        cpu.append(100 * (proxy.cpu_seconds() - before) / (time.monotonic() - start))
        if svg:
            profile.record(proxy.pid, RESULTS / "profile.svg", seconds)
        return []

    rates, _ = python_load.while_running(_repeat_for(windows * seconds + 12, load), sample)
    header = (f"== {name} through the proxy at {median(rates):.1f} MB/s: py-spy --nonblocking {seconds} s; "
              f"the proxy process used {cpu[0]:.0f}% of one core")
    return profile.summarize(raw.read_text(), top=15, header=header)


def profile_proxy(proxy: ProxyProcess, seconds: int) -> str:
    """py-spy under three loads: Java producer (SVG too), confluent-kafka producer and consumer."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    through = proxy.bootstrap
    scenarios: list[tuple[str, Callable[[], float], bool]] = [
        ("java-producer", lambda: java_produce(through, 300_000).mb_per_sec, True),
        ("confluent-producer", lambda: python_load.produce_mb_s(through, TOPIC, 200_000), False),
        ("confluent-consumer", lambda: python_load.consume_mb_s(through, TOPIC, 300_000), False),
    ]
    text = "\n".join(profile_scenario(proxy, name, load, seconds, svg) for name, load, svg in scenarios)
    (RESULTS / "profile.txt").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records and pairs (< 5 minutes)")
    parser.add_argument("--profile", action="store_true", help="also py-spy the proxy under producer load")
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--tls", action="store_true", help="the TLS run instead: TLS on both sides (Java clients)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.tls:
        print(json.dumps(overhead_tls.run(plan, RECORD_SIZE, PARTITIONS, compare, median)))
        return 0
    started = time.monotonic()
    load_before, jvms_before = load_average(), other_jvms()
    [cluster] = start_clusters([ClusterSpec("A", (1,), BROKER_OVERRIDES)])
    proxy: ProxyProcess | None = None
    try:
        create_topic(cluster.bootstrap)
        proxy = start_proxy({"A": cluster.bootstrap}, "A")
        result = measure(cluster.bootstrap, proxy, plan)
        if args.profile:
            print(profile_proxy(proxy, args.profile_seconds), file=sys.stderr)
    finally:
        if proxy is not None:
            proxy.stop()
        stop_clusters([cluster])
    result["plan"] = {"quick": args.quick, **asdict(plan), "record_size": RECORD_SIZE, "partitions": PARTITIONS}
    result["machine"] = machine_info(load_before, jvms_before)
    result["targets_met"] = verdict(result)
    result["runtime_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    draw(result, RESULTS / "overhead.png")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
