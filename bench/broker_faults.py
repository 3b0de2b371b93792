"""Broker faults behind the proxy vs direct: the longest pause per library and scenario.

A 3-node cluster (ids 1, 2, 3; fast broker fencing), a proxy in front of it, and every client
library on both paths at once; then, one after the other: a broker killed, the group
coordinator's broker killed, a broker killed and restarted, a rolling restart. Prints one JSON
object (and writes bench/results/broker_faults.json): per scenario and library the longest pause
direct and through the proxy, whether the target holds (proxy <= direct + 1 s), and whether any
record was lost on either path. Exits non-zero if a record was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness import fault_scenarios as scenario
from harness.cluster import start_cluster
from harness.proxy_thread import ProxyThread, proxy_config

RESULTS = Path(__file__).parent / "results"
SCENARIOS = {
    "broker_killed": scenario.a_broker_killed,
    "coordinator_killed": scenario.the_coordinator_killed,
    "killed_and_restarted": scenario.killed_and_restarted,
    "rolling_restart": scenario.rolling_restart,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_faults", description=__doc__)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args(argv)
    cluster = start_cluster("F3", (1, 2, 3), scenario.FAST_FENCING)
    results: dict[str, Any] = {}
    try:
        proxy = ProxyThread(proxy_config({"A": cluster.bootstrap}, "A")).start()
        try:
            for name in args.scenarios.split(","):
                comparison = scenario.run_compared(cluster, proxy, SCENARIOS[name](cluster))
                results[name] = {"pauses": scenario.pauses(comparison), "losses": scenario.nothing_lost(comparison)}
                scenario.restore(cluster)
        finally:
            proxy.stop()
    finally:
        cluster.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "broker_faults.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))
    return 1 if any(r["losses"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
