"""The TLS run of bench/overhead.py: TLS on both sides, direct vs proxied (`overhead --tls`).

One single-node cluster with an SSL listener (certificates made by harness.certs), a proxy process
with `listeners.tls` and `clusters.A.tls`. Java ProducerPerformance and ConsumerPerformance run in
pairs, direct to the broker's SSL listener and through the proxy, both over TLS. The proxy
decrypts and re-encrypts every byte, so the figure that matters is its CPU per GiB next to the
plaintext run's. Writes bench/results/overhead-tls.json. Target (issue 12): ratio >= 0.9.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info, other_jvms
from harness import tools
from harness.certs import make_test_certificates
from harness.cluster import BrokerTls, ClusterSpec, start_clusters, stop_clusters
from harness.proxy_process import ProxyProcess, raw_config

RESULTS = Path(__file__).parent / "results"
TOPIC = "bench-overhead-tls"


def _tool(main: str, bootstrap: str, config: Path, args: list[str]) -> str:
    return tools.run_tool(main, ["--bootstrap-server", bootstrap, "--topic", TOPIC, *args,
                                 "--command-config", str(config)]).stdout


def run(plan: Any, record_size: int, partitions: int, compare: Any, median: Any) -> dict[str, Any]:
    """`compare(run, direct, proxy, pairs, records)` and `median` come from bench.overhead."""
    started = time.monotonic()
    load_before, jvms_before = load_average(), other_jvms()
    work = Path(tempfile.mkdtemp(prefix="kfp-bench-tls-"))
    certs = make_test_certificates(work / "certs")
    spec = ClusterSpec("A", (1,), {"log.retention.check.interval.ms": "15000"},
                       tls=BrokerTls(certs.broker.cert, certs.broker.key, certs.ca.cert))
    [cluster] = start_clusters([spec])
    proxy: ProxyProcess | None = None
    client = work / "client.properties"
    client.write_text(f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={certs.ca.cert}\n"
                      "acks=all\n")
    try:
        raw = raw_config({"A": cluster.ssl_bootstrap}, "A",
                         listeners={"tls": {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key)}})
        raw["clusters"]["A"]["tls"] = {"ca_file": str(certs.ca.cert)}
        proxy = ProxyProcess(raw).start()
        direct = cluster.ssl_bootstrap
        tools.create_topic(cluster.bootstrap, TOPIC, partitions=partitions)
        records = plan.java_records

        def produce(bootstrap: str) -> float:
            out = _tool(tools.PRODUCER_PERFORMANCE, bootstrap, client,
                        ["--num-records", str(records), "--record-size", str(record_size), "--throughput", "-1"])
            return tools.parse_producer_performance(out).mb_per_sec

        def consume(bootstrap: str) -> float:
            out = _tool(tools.CONSUMER_PERFORMANCE, bootstrap, client,
                        ["--num-records", str(records), "--timeout", "60000"])
            return tools.parse_consumer_performance(out).fetch_mb_sec

        produce(direct)  # warm up: JIT, page cache, a topic to read
        producer = compare(produce, direct, proxy, plan.pairs, records)
        consumer = compare(consume, direct, proxy, plan.pairs, records)
    finally:
        if proxy is not None:
            proxy.stop()
        stop_clusters([cluster])
    result = {"tls": True, "producer": producer, "consumer": consumer,
              "targets_met": {"producer_ratio>=0.9": producer["ratio"] >= 0.9,
                              "consumer_ratio>=0.9": consumer["ratio"] >= 0.9},
              "plan": {"pairs": plan.pairs, "java_records": records, "record_size": record_size},
              "machine": machine_info(load_before, jvms_before), "runtime_s": round(time.monotonic() - started, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead-tls.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
