"""Many idle clients: how long the proxy takes to accept them and what they cost in memory.

    .venv/bin/python -m bench.connections [--quick] [--connections N]

Opens N raw TCP connections to the proxy's bootstrap port (default 10,000; 2,000 with --quick). Each
sends one ApiVersions v3 request and reads the answer, then stays idle. The proxy answers ApiVersions
itself but opens an upstream connection to the broker for every client, so the run also waits until
the proxy's `kfp_upstream_connections` gauge reaches N: only then is every connection established
through the proxy. `accept_s` is the time from the first connect to that point; `rss_mb` the proxy's
VmRSS with all N open, and `rss_per_conn_kb` (after - before) / N.

Every connection costs a descriptor here, two in the proxy (client and upstream) and one in the
broker, so the script raises RLIMIT_NOFILE before it starts the broker and the proxy (children
inherit it), and the broker gets generous connection limits. Target (issue 6): rss_mb <= 500 at 10k.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.machine import load_average, machine_info, other_jvms
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.proxy_process import ProxyProcess, start_proxy
from protocol import schema
from protocol.headers import encode_request_header
from protocol.messages import api_versions

RESULTS = Path(__file__).parent / "results"
TARGET_RSS_MB = 500
CONCURRENT_OPENS = 100  # stays within the listener's accept backlog (asyncio's default is 100)
SETTLE_S = 3.0
BROKER_OVERRIDES = {"max.connections": "1000000", "max.connections.per.ip": "1000000",
                    "connections.max.idle.ms": "3600000"}
_SIZE = struct.Struct(">i")
_CORRELATION_AND_ERROR = struct.Struct(">ih")
_LINGER_ZERO = struct.pack("ii", 1, 0)


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE to `wanted` (root may lift the hard limit too), else to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_limit_of(pid: int) -> int:
    """The soft `Max open files` of another process, from /proc/<pid>/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise RuntimeError(f"no fd limit for pid {pid}")


def capacity(proxy: ProxyProcess, spare: int = 64) -> int:
    """Client connections the proxy's fd limit allows: two descriptors each, beyond what it holds now."""
    held = len(list(Path(f"/proc/{proxy.pid}/fd").iterdir()))
    return (fd_limit_of(proxy.pid) - held - spare) // 2


def api_versions_request(correlation_id: int) -> bytes:
    body = schema.encode(api_versions.REQUEST, 3, schema.new(
        api_versions.REQUEST, 3, ClientSoftwareName="kfp-bench-connections", ClientSoftwareVersion="1.0"))
    payload = encode_request_header(api_versions.API_KEY, 3, correlation_id, "kfp-bench") + body
    return _SIZE.pack(len(payload)) + payload


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


async def open_one(address: tuple[str, int], correlation_id: int) -> socket.socket:
    """Connect, send ApiVersions, read the whole answer and check it; the socket stays open."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        await loop.sock_sendall(sock, api_versions_request(correlation_id))
        size = _SIZE.unpack(await _recv_exactly(loop, sock, 4))[0]
        got, error = _CORRELATION_AND_ERROR.unpack_from(await _recv_exactly(loop, sock, size))
    except BaseException:
        sock.close()
        raise
    if got != correlation_id or error != 0:
        sock.close()
        raise ConnectionError(f"ApiVersions answer: correlation id {got} (sent {correlation_id}), error {error}")
    return sock


def reset(sockets: list[socket.socket]) -> None:
    """Close with SO_LINGER 0: an RST, so no TIME_WAIT holds thousands of ephemeral ports afterwards."""
    for sock in sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        sock.close()
    sockets.clear()


async def open_all(address: tuple[str, int], count: int) -> list[socket.socket]:
    gate = asyncio.Semaphore(CONCURRENT_OPENS)

    async def gated(i: int) -> socket.socket:
        async with gate:
            return await open_one(address, i)

    results = await asyncio.gather(*(gated(i) for i in range(count)), return_exceptions=True)
    sockets = [r for r in results if isinstance(r, socket.socket)]
    failures = [r for r in results if not isinstance(r, socket.socket)]
    if failures:
        reset(sockets)
        raise RuntimeError(f"{len(failures)} of {count} connections failed, first: {failures[0]!r}")
    return sockets


def wait_upstream(proxy: ProxyProcess, count: int, timeout_s: float = 120) -> float:
    """Wait until the proxy reports `count` upstream connections; the gauge's last value."""
    deadline = time.monotonic() + timeout_s
    while (connected := proxy.metric("kfp_upstream_connections")) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {connected:.0f} of {count} upstream connections after {timeout_s} s")
        time.sleep(0.05)
    return connected


def measure(proxy: ProxyProcess, cluster: Cluster, count: int, sockets: list[socket.socket]) -> dict[str, Any]:
    """Open `count` connections into `sockets` (the caller closes them, after the broker and proxy)."""
    host, port = proxy.config.listeners.advertised_host, proxy.config.listeners.bootstrap_port
    time.sleep(SETTLE_S)
    rss_before = proxy.rss_kb()
    start = time.monotonic()
    sockets += uvloop.run(open_all((host, port), count))
    handshake_s = time.monotonic() - start
    upstream = wait_upstream(proxy, count)
    accept_s = time.monotonic() - start
    time.sleep(SETTLE_S)  # idle: nothing in flight, buffers returned
    rss_after = proxy.rss_kb()
    clients = proxy.metric("kfp_client_connections")
    return {
        "connections": count, "accept_s": round(accept_s, 2), "handshake_s": round(handshake_s, 2),
        "rss_mb": round(rss_after / 1024, 1), "rss_before_mb": round(rss_before / 1024, 1),
        "rss_per_conn_kb": round((rss_after - rss_before) / count, 2),
        "proxy_client_connections": int(clients), "proxy_upstream_connections": int(upstream),
        "proxy_fd_limit": fd_limit_of(proxy.pid), "broker_fd_limit": fd_limit_of(cluster.pids[0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 connections instead of 10,000")
    parser.add_argument("--connections", type=int, help="how many (overrides --quick)")
    args = parser.parse_args(argv)
    requested = args.connections or (2_000 if args.quick else 10_000)
    started = time.monotonic()
    load_before, jvms_before = load_average(), other_jvms()
    fd_limit = raise_fd_limit(max(65_536, 2 * requested + 4_096))  # before any child is spawned
    [cluster] = start_clusters([ClusterSpec("A", (1,), BROKER_OVERRIDES)])
    proxy: ProxyProcess | None = None
    sockets: list[socket.socket] = []
    try:
        proxy = start_proxy({"A": cluster.bootstrap}, "A",
                            limits={"max_client_connections": requested + 1_000, "idle_timeout_s": 3_600})
        count = min(requested, capacity(proxy))
        print(f"bench.connections: {count} connections (asked for {requested}), RLIMIT_NOFILE {fd_limit}",
              file=sys.stderr)
        result = measure(proxy, cluster, count, sockets)
    finally:  # the broker closes first, then the proxy, then us: TIME_WAIT stays off ephemeral ports
        stop_clusters([cluster])
        if proxy is not None:
            proxy.stop()
        reset(sockets)
    at_10k = result["rss_before_mb"] + result["rss_per_conn_kb"] * 10_000 / 1024  # = rss_mb when count is 10k
    if count < requested:
        result["limited_by"] = (f"RLIMIT_NOFILE hard limit {fd_limit} (no CAP_SYS_RESOURCE to lift it): the proxy "
                                f"holds two descriptors per client, so {count} of {requested} fit")
    result.update({"requested": requested, "fd_limit": fd_limit, "target_rss_mb": TARGET_RSS_MB,
                   "rss_mb_at_10k": round(at_10k, 1), "target_met": at_10k <= TARGET_RSS_MB,
                   "quick": args.quick, "machine": machine_info(load_before, jvms_before),
                   "runtime_s": round(time.monotonic() - started, 1)})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "connections.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
