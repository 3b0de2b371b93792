"""Proxy processes sharing switch state in a real etcd: the fleet view, and fail closed on etcd loss.

Two proxy processes in front of the session's A and B register in one etcd under 2 s leases. Each
`/v1/status` lists both. With etcd stopped for longer than the lease TTL both fence produce and new
transactions (`kfp_fenced` 1, `state.state_lost`), and lift that fence once etcd is back with the
same state.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.etcd import Etcd
from harness.proxy_process import ProxyProcess, raw_config

pytestmark = pytest.mark.integration

LEASE_TTL_S = 2


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    with Etcd() as server:
        yield server


def _status(proxy: ProxyProcess) -> dict[str, Any]:
    code, body = proxy.admin_get("/v1/status")
    assert code == 200, body
    return dict(json.loads(body))


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.2)


def test_instances_share_a_fleet_view_and_fail_closed_while_etcd_is_gone(
        cluster_a: Any, cluster_b: Any, etcd: Etcd) -> None:
    state = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": f"/kfp-test/{uuid.uuid4().hex[:8]}",
             "lease_ttl_s": LEASE_TTL_S}
    clusters = {"A": cluster_a.bootstrap, "B": cluster_b.bootstrap}
    proxies = [ProxyProcess(raw_config(clusters, "A", state=state)) for _ in range(2)]
    try:
        for proxy in proxies:
            proxy.start()
        bootstraps = sorted(p.bootstrap for p in proxies)
        _wait(lambda: all(sorted(m["instance"] for m in _status(p)["state"]["fleet"]) == bootstraps
                          for p in proxies), "each instance lists both")
        first = _status(proxies[0])
        assert (first["active"], first["state"]["resumed_from"]) == ("A", "config")
        assert _status(proxies[1])["state"]["resumed_from"] == "state"  # the first one wrote it
        etcd.stop()
        _wait(lambda: all(p.metric("kfp_fenced") == 1 and _status(p)["state"]["state_lost"] for p in proxies),
              "both fenced after the lease TTL without etcd")
        etcd.start()
        _wait(lambda: all(p.metric("kfp_fenced") == 0 and not _status(p)["state"]["state_lost"] for p in proxies),
              "both unfenced once etcd answers with the same state")
    finally:
        for proxy in proxies:
            proxy.stop()
