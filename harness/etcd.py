"""A single-member etcd on free loopback ports, for fleet tests and demos.

Like `harness.cluster`: a fresh work dir, registered with `harness.processes` (stopped at exit and
when we die), stopped also when it never becomes ready. etcd comes from Debian's `etcd-server`
package (`make etcd` installs it when missing); `ETCD_BIN` overrides the binary. Ready means
`GET /health` on the client port answers `"health":"true"`. `stop()` then `start()` again keeps the
data dir, which is how tests take etcd away from a fleet and give it back.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import processes
from harness.processes import ManagedProcess
from harness.proxy_thread import free_port_block

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class EtcdError(RuntimeError):
    """etcd is missing, exited or never became healthy; the message carries its log tail."""


def etcd_binary() -> str:
    found = os.environ.get("ETCD_BIN") or shutil.which("etcd")
    if found is None:
        raise EtcdError("no etcd binary: run `make etcd` (installs Debian's etcd-server) or set ETCD_BIN")
    return found


class Etcd:
    """One etcd member; `endpoint` is what clients use (http://127.0.0.1:<port>)."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = workdir or processes.make_workdir("etcd")
        self.client_port = free_port_block(2, HOST)
        self.peer_port = self.client_port + 1
        self.log_path = self.workdir / "etcd.log"
        self.process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.client_port}"

    def argv(self) -> list[str]:
        client, peer = self.endpoint, f"http://{HOST}:{self.peer_port}"
        return [etcd_binary(), "--name", "kfp-test", "--data-dir", str(self.workdir / "data"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"kfp-test={peer}", "--initial-cluster-state", "new",
                "--heartbeat-interval", "100", "--election-timeout", "1000"]

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> Etcd:
        env = {**os.environ, "ETCD_UNSUPPORTED_ARCH": os.environ.get("ETCD_UNSUPPORTED_ARCH", "")}
        self.process = processes.spawn("etcd", self.argv(), self.log_path, env=env)
        deadline = time.monotonic() + timeout_s
        while not self.healthy():
            if not self.process.alive():
                tail = self.process.log_tail()
                self.process = None
                raise EtcdError(f"etcd exited:\n{tail}")
            if time.monotonic() > deadline:
                tail = self.process.log_tail()
                self.stop()
                raise EtcdError(f"etcd not healthy after {timeout_s:.0f} s:\n{tail}")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=2) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        if self.process is not None:
            processes.stop_many([self.process], grace_s)
            self.process = None

    def close(self) -> None:
        """Stop and remove the data."""
        self.stop()
        processes.remove_workdir(self.workdir)

    def __enter__(self) -> Etcd:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_etcd() -> Etcd:
    return Etcd().start()
