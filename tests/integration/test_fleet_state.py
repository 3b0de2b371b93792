"""Proxy processes sharing switch state in a real etcd: the fleet view, and fail closed on etcd loss.

Two proxy processes in front of the session's A and B register in one etcd under 2 s leases. Each
`/v1/status` lists both. With etcd stopped for longer than the lease TTL both fence produce and new
transactions (`kfp_fenced` 1, `state.state_lost`), and lift that fence once etcd is back with the
same state. An instance started after a fleet switch serves the stored cluster, not its config's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from harness.etcd import Etcd
from harness.proxy_process import ProxyProcess, raw_config
from harness.workload import wait_until
from proxy.state.etcd_store import EtcdStateStore
from proxy.state.snapshot import ClusterState

pytestmark = pytest.mark.integration

LEASE_TTL_S = 2




def test_instances_share_a_fleet_view_and_fail_closed_while_etcd_is_gone(
        cluster_a: Any, cluster_b: Any, etcd: Etcd) -> None:
    state = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": f"/kfp-test/{uuid.uuid4().hex[:8]}",
             "lease_ttl_s": LEASE_TTL_S}
    clusters = {"A": cluster_a.bootstrap, "B": cluster_b.bootstrap}
    proxies: list[ProxyProcess] = []

    def every(check: Callable[[ProxyProcess], bool], what: str) -> None:
        wait_until(lambda: all(check(p) for p in proxies), 90, lambda: f"not within 90 s: {what}", every_s=0.2)

    try:
        for _ in range(2):  # ports are chosen free just before each start, so two cannot pick the same
            proxies.append(ProxyProcess(raw_config(clusters, "A", state=state)).start())
        bootstraps = sorted(p.bootstrap for p in proxies)
        every(lambda p: sorted(m["instance"] for m in p.status()["state"]["fleet"]) == bootstraps,
              "each instance lists both")
        first = proxies[0].status()
        assert (first["active"], first["state"]["resumed_from"]) == ("A", "config")
        assert proxies[1].status()["state"]["resumed_from"] == "state"  # the first one wrote it
        etcd.stop()
        every(lambda p: p.metric("kfp_fenced") == 1 and p.status()["state"]["state_lost"],
              "both fenced after the lease TTL without etcd")
        etcd.start()
        every(lambda p: p.metric("kfp_fenced") == 0 and not p.status()["state"]["state_lost"],
              "both unfenced once etcd answers with the same state")
    finally:
        for proxy in proxies:
            proxy.stop()


def test_an_instance_started_after_a_fleet_switch_serves_the_stored_cluster(
        cluster_a: Any, cluster_b: Any, etcd: Etcd) -> None:
    prefix = f"/kfp-test/{uuid.uuid4().hex[:8]}"

    async def switched_fleet() -> None:
        store = EtcdStateStore([etcd.endpoint], prefix)
        await store.compare_and_swap(0, ClusterState("A", 0))
        await store.compare_and_swap(0, ClusterState("B", 1))  # what a leader's flip leaves behind
        await store.close()

    asyncio.run(switched_fleet())
    state = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": prefix, "lease_ttl_s": LEASE_TTL_S}
    with ProxyProcess(raw_config({"A": cluster_a.bootstrap, "B": cluster_b.bootstrap}, "A", state=state)) as proxy:
        status = proxy.status()
        fenced = proxy.metric("kfp_fenced")
    assert (status["active"], status["switch_epoch"], status["state"]["resumed_from"]) == ("B", 1, "state")
    assert "A is only the first-boot value" in status["state"]["note"]
    assert fenced == 0
