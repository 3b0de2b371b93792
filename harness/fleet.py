"""A fleet of proxy processes sharing switch state in one etcd, for the demo, the drill and tests.

Each instance is its own process on ports chosen free just before it starts, with the same virtual
cluster and one etcd prefix per fleet. `fleet_switch` asks the first instance for a planned switch
through the admin API and times the call to the last instance serving the target.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness import processes
from harness.cluster import KafkaCluster
from harness.etcd import Etcd
from harness.proxy_process import ProxyProcess, raw_config
from harness.workload import SwitchRun, wait_until
from proxy.cli import AdminClient, is_final

TOKEN = "fleet-token"
LEASE_TTL_S = 5


@contextmanager
def fleet(a: KafkaCluster, b: KafkaCluster, etcd: Etcd, instances: int) -> Iterator[list[ProxyProcess]]:
    """`instances` proxy processes on A (mirror A->B), registered with each other before use."""
    token = processes.make_workdir("fleet") / "token"
    token.write_text(TOKEN)
    state = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": f"/kfp-fleet/{uuid.uuid4().hex[:8]}",
             "lease_ttl_s": LEASE_TTL_S}
    proxies: list[ProxyProcess] = []
    try:
        for _ in range(instances):
            proxies.append(ProxyProcess(raw_config({"A": a.bootstrap, "B": b.bootstrap}, "A", state=state,
                                                   mirrors=[{"source": "A", "target": "B"}],
                                                   admin={"token_file": str(token)})).start())
        wait_until(lambda: all(len(p.status()["state"]["fleet"]) == instances for p in proxies), 120,
                   lambda: "fleet not registered", every_s=0.2)
        yield proxies
    finally:
        for proxy in proxies:
            proxy.stop()


def fleet_switch(proxies: list[ProxyProcess], target: str, timeout_s: float = 60) -> tuple[SwitchRun, float]:
    """A planned switch asked of the first instance: its run, and ms from the call to the last flip
    (NaN when not every instance flipped)."""
    admin = AdminClient(proxies[0].admin_url, TOKEN)
    called_at = time.time()
    code, answer = admin.call("POST", "/v1/switch", {"target": target, "timeout_s": timeout_s})
    if code != 202:
        raise RuntimeError(f"switch refused: {code} {answer}")
    flipped: dict[int, float] = {}
    record: dict[str, Any] = {}

    def all_flipped() -> bool:
        for i, proxy in enumerate(proxies):
            if i not in flipped and proxy.status()["active"] == target:
                flipped[i] = time.time()
        return len(flipped) == len(proxies)

    def final() -> bool:
        record.update(admin.call("GET", f"/v1/switch/{answer['switch_id']}")[1])
        return is_final(record)

    wait_until(lambda: all_flipped() or (final() and record.get("outcome") != "succeeded"), timeout_s + 60,
               lambda: f"not every instance flipped: {record}", every_s=0.02)
    wait_until(final, timeout_s + 60, lambda: f"switch record not final: {record}", every_s=0.1)
    last_ms = (max(flipped.values()) - called_at) * 1000 if len(flipped) == len(proxies) else float("nan")
    phases = {p["phase"]: p["duration_ms"] for p in record["phases"] if p["duration_ms"] is not None}
    return SwitchRun(answer["switch_id"], record, called_at, phases), last_ms
