"""Proxy fixtures on top of the harness's clusters (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.etcd import Etcd
from harness.proxy_thread import ProxyThread, proxy_config


@pytest.fixture(scope="session")
def proxy_ab(cluster_a: Any, cluster_b: Any) -> Iterator[ProxyThread]:
    """A proxy in front of the session pair (A: nodes 1, 2, 3; B: nodes 11, 12), A active."""
    proxy = ProxyThread(proxy_config({"A": cluster_a.bootstrap, "B": cluster_b.bootstrap}, "A")).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    """A fresh single-member etcd on free loopback ports, stopped and removed after the test."""
    with Etcd() as server:
        yield server
