"""Run a proxy in a background thread with its own uvloop loop (tests, bench, demo).

Synchronous clients (confluent-kafka, kafka-python, the Java tools) need the proxy to run while the
test thread blocks, and tests want to look inside it (context, metrics, captured bytes), so the
proxy gets a thread and a loop of its own. `ProxyThread.stop()` shuts it down cleanly.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import uvloop

from proxy.app import ProxyServer
from proxy.config import ProxyConfig, parse

T = TypeVar("T")


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive free ports (checked by binding each)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((host, 0))
            base: int = probe.getsockname()[1]
        if base + count >= 65000:
            continue
        if all(_is_free(host, base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no block of {count} free ports")


def _is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def proxy_config(clusters: dict[str, str], active: str, max_brokers: int = 4,
                 cluster_settings: dict[str, dict[str, Any]] | None = None, **overrides: Any) -> ProxyConfig:
    """A config for `clusters` (name -> bootstrap string) on free loopback ports; `cluster_settings`
    adds keys to a cluster's section (its `tls`)."""
    base = free_port_block(max_brokers + 1)
    raw: dict[str, Any] = {
        "virtual_cluster": {"cluster_id": "kfp-test-virtual-cluster"},
        "listeners": {
            "bind_host": "127.0.0.1",
            "advertised_host": "127.0.0.1",
            "bootstrap_port": base,
            "broker_port_base": base + 1,
            "max_brokers": max_brokers,
        },
        "clusters": {name: {"bootstrap_servers": bootstrap.split(","), **(cluster_settings or {}).get(name, {})}
                     for name, bootstrap in clusters.items()},
        "active": active,
        "admin": {"bind_host": "127.0.0.1", "port": 0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    return parse(raw)


class ProxyThread:
    """A started proxy; `call` runs a function on its loop and returns the result."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.loop = uvloop.new_event_loop()
        self.server = ProxyServer(config)
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxy-loop", daemon=True)

    @property
    def bootstrap(self) -> str:
        return f"{self.config.listeners.advertised_host}:{self.server.bootstrap_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.server.admin_port}"

    def start(self) -> ProxyThread:
        self._thread.start()
        self.run(self.server.start(), timeout_s=60)
        return self

    def run(self, coro: Any, timeout_s: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def call(self, fn: Callable[[], T], timeout_s: float = 30) -> T:
        future: Future[T] = Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout_s)

    def stop(self) -> None:
        try:
            self.run(self.server.stop(), timeout_s=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self.loop.close()


@contextmanager
def running_proxy(clusters: dict[str, str], active: str, **kwargs: Any) -> Iterator[ProxyThread]:
    proxy = ProxyThread(proxy_config(clusters, active, **kwargs)).start()
    try:
        yield proxy
    finally:
        proxy.stop()
