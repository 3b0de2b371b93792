"""Run the proxy as its own OS process (`python -m proxy.cli run`), for benchmarks.

A proxy in a thread of the benchmark shares the GIL with the Python clients that load it, so
their cost would be charged to the proxy. Here the proxy is a separate process started exactly as an
operator starts it: a YAML config on free loopback ports, the CLI, a log file. It is registered with
`harness.processes` (killed if we die, stopped at exit) and is ready once the admin `/readyz`
answers 200. The fd limit is inherited: raise RLIMIT_NOFILE before `start()` for many connections.
Unless the config names one, the switch state lives in `state.json` of the proxy's work directory,
so `restart()` resumes from it as an operator's restart would.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from harness import processes
from harness.processes import ManagedProcess
from harness.proxy_thread import free_port_block
from proxy.config import ProxyConfig, parse

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class ProxyStartError(RuntimeError):
    """The proxy exited or never became ready; the message carries its log tail."""


def raw_config(clusters: dict[str, str], active: str, max_brokers: int = 4, **overrides: Any) -> dict[str, Any]:
    """Plain config data for `clusters` (name -> bootstrap string) on free loopback ports.

    The bootstrap port, the broker ports and the admin port are one block of consecutive free ports.
    A section in `overrides` (e.g. `limits={...}`) is merged key by key into the defaults.
    """
    base = free_port_block(max_brokers + 2)
    raw: dict[str, Any] = {
        "virtual_cluster": {"cluster_id": "kfp-bench-virtual-cluster"},
        "listeners": {"bind_host": "127.0.0.1", "advertised_host": "127.0.0.1", "bootstrap_port": base,
                      "broker_port_base": base + 1, "max_brokers": max_brokers},
        "clusters": {name: {"bootstrap_servers": bootstrap.split(",")} for name, bootstrap in clusters.items()},
        "active": active,
        "admin": {"bind_host": "127.0.0.1", "port": base + max_brokers + 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    parse(raw)  # a bad override fails here, not as a silent proxy exit
    return raw


class ProxyProcess:
    """A proxy subprocess; `bootstrap` is what clients dial, `pid` what profilers and RSS probes read."""

    def __init__(self, raw: dict[str, Any], workdir: Path | None = None) -> None:
        self.workdir = workdir or processes.make_workdir("proxy")
        if "state" not in raw:
            raw = {**raw, "state": {"path": str(self.workdir / "state.json")}}
        self.config: ProxyConfig = parse(raw)
        self.state_path = None if self.config.state.path is None else Path(self.config.state.path)
        self.config_path = self.workdir / "proxy.yaml"
        self.log_path = self.workdir / "proxy.log"
        self.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        listeners = self.config.listeners
        return f"{listeners.advertised_host}:{listeners.bootstrap_port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.config.admin.bind_host}:{self.config.admin.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("proxy not started")
        return self.process.pid

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "proxy.cli", "run", "--config", str(self.config_path)]

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> ProxyProcess:
        """Spawn and wait for `/readyz` 200 (the active cluster answered and versions are known)."""
        self.process = processes.spawn("proxy", self.argv(), self.log_path, cwd=Path(__file__).parent.parent)
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if not self.process.alive():
                raise ProxyStartError(f"proxy exited with {self.process.popen.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ProxyStartError(f"proxy not ready after {timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def ready(self) -> bool:
        return self.admin_get("/readyz")[0] == 200

    def admin_get(self, path: str, timeout_s: float = 5.0) -> tuple[int, str]:
        """(status, body) of a GET on the admin API (with the configured token file's bearer token,
        which /v1 reads need when one is set); (0, reason) when nothing answers."""
        request = urllib.request.Request(self.admin_url + path)
        token_file = self.config.admin.token_file
        if token_file is not None and Path(token_file).exists():
            request.add_header("Authorization", f"Bearer {Path(token_file).read_text().strip()}")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def status(self) -> dict[str, Any]:
        """`GET /v1/status` decoded; anything but 200 is an error naming what answered."""
        code, body = self.admin_get("/v1/status")
        if code != 200:
            raise RuntimeError(f"/v1/status answered {code}: {body[:200]}")
        return dict(json.loads(body))

    def metric(self, name: str) -> float:
        """Sum of every sample of one Prometheus metric (all label values) from `/metrics`."""
        status, text = self.admin_get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}: {text[:200]}")
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and line[len(name)] in " {")

    def rss_kb(self) -> int:
        """Resident set size (VmRSS) of the proxy process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the proxy process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def log_tail(self, lines: int = 40) -> str:
        return processes.tail_file(self.log_path, lines)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM (the proxy closes its clients and exits), SIGKILL after `grace_s`."""
        if self.process is not None:
            processes.stop_many([self.process], grace_s)
            self.process = None

    def restart(self, timeout_s: float = READY_TIMEOUT_S) -> ProxyProcess:
        """Stop (SIGTERM) and start again on the same config, state file and log."""
        self.stop()
        return self.start(timeout_s)

    def __enter__(self) -> ProxyProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(clusters: dict[str, str], active: str, **overrides: Any) -> ProxyProcess:
    """Write a config for `clusters` on free ports and start a proxy process on it."""
    return ProxyProcess(raw_config(clusters, active, **overrides)).start()
