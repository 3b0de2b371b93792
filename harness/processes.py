"""One registry of every process the harness starts, so nothing outlives a test run.

Brokers and MirrorMaker are JVMs that keep running when Python dies, and on a 2-core machine one
leftover JVM slows every later run. So every process goes through `spawn`, which

- writes stdout and stderr to a log file (a JVM on an unread pipe blocks once the pipe fills),
- starts it in its own session (a terminal's Ctrl-C reaches only us; we stop the JVMs in order),
- asks Linux to SIGKILL it if the spawning (main) thread dies without cleaning up (PR_SET_PDEATHSIG),
- remembers it by PID until it has been reaped.

`stop_all` runs at exit and on SIGINT/SIGTERM; `live_pids` lets tests check that nothing is left.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

STOP_GRACE_S = 30.0
_PR_SET_PDEATHSIG = 1


@dataclass
class ManagedProcess:
    """A started process, its combined stdout/stderr log and the directory it may own."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    owned_dir: Path | None = None
    tier: int = 0
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return tail_file(self.log_path, lines)


_registry: dict[int, ManagedProcess] = {}
_lock = threading.RLock()
_handlers_installed = False
_stopping = False
_session_root: Path | None = None


def tail_file(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log, or a note that it does not exist (yet)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 256 * lines))
            data = log.read().decode("utf-8", "replace")
    except OSError:
        return f"<no log at {path}>"
    return "\n".join(data.splitlines()[-lines:])


def session_root() -> Path:
    """One `kfp-*` temp dir per Python process holding every work dir; removed at exit."""
    global _session_root
    install_handlers()
    with _lock:
        if _session_root is None:
            _session_root = Path(tempfile.mkdtemp(prefix="kfp-"))
        return _session_root


def make_workdir(name: str) -> Path:
    """A fresh directory for one cluster, mirror or tool run, removed by `remove_workdir`."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=session_root()))


def remove_workdir(path: Path | None) -> None:
    """Delete a work dir unless KFP_KEEP_WORKDIRS is set (to read logs after a run)."""
    if path is not None and not os.environ.get("KFP_KEEP_WORKDIRS"):
        shutil.rmtree(path, ignore_errors=True)


def _death_signal_setter() -> Callable[[], None] | None:
    """A preexec_fn that makes the child die with us; None off Linux or off the main thread.

    PDEATHSIG fires when the *thread* that forked exits, so only the main thread may use it.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(name: str, argv: Sequence[str], log_path: Path, *, stderr_path: Path | None = None,
          cwd: Path | None = None, env: Mapping[str, str] | None = None,
          owned_dir: Path | None = None, tier: int = 0, stdin_path: Path | None = None) -> ManagedProcess:
    """Start `argv` with stdout (and stderr, unless `stderr_path`) to `log_path` and register it.

    Standard input is empty unless `stdin_path` names a file to read it from (ConsoleProducer).

    `owned_dir` is removed once the process has been stopped and reaped. `stop_all` stops lower
    tiers first: clients of the brokers (MirrorMaker, tools: tier 0) before the brokers (tier 1),
    since MirrorMaker hangs in shutdown once its brokers are gone.
    """
    install_handlers()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        log = files.enter_context(log_path.open("ab"))
        err = files.enter_context(stderr_path.open("ab")) if stderr_path else subprocess.STDOUT
        stdin = files.enter_context(stdin_path.open("rb")) if stdin_path else subprocess.DEVNULL
        popen = subprocess.Popen(
            list(argv), stdin=stdin, stdout=log, stderr=err,
            cwd=cwd, env=None if env is None else dict(env), start_new_session=True,
            preexec_fn=_death_signal_setter(),
        )
    process = ManagedProcess(name, popen, log_path, owned_dir, tier=tier)
    with _lock:
        _registry[popen.pid] = process
    return process


def _signal(process: ManagedProcess, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.popen.send_signal(signum)


def stop_many(processes: Iterable[ManagedProcess], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM all at once, SIGKILL whatever is left after `grace_s`, reap, drop from the registry."""
    targets = list(processes)
    for process in targets:
        if process.alive():
            _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in targets:
        try:
            process.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"harness: {process.name} (pid {process.pid}) ignored SIGTERM, killing", file=sys.stderr)
            _signal(process, signal.SIGKILL)
            process.popen.wait()
    _forget(targets)


def kill_many(processes: Iterable[ManagedProcess]) -> None:
    """SIGKILL, no grace: what an emergency failover test wants a dead region to look like."""
    targets = list(processes)
    for process in targets:
        _signal(process, signal.SIGKILL)
    for process in targets:
        process.popen.wait()
    _forget(targets)


def _forget(processes: list[ManagedProcess]) -> None:
    with _lock:
        for process in processes:
            _registry.pop(process.pid, None)
            if not process._stopped:
                process._stopped = True
                remove_workdir(process.owned_dir)


def stop_all(grace_s: float = STOP_GRACE_S) -> None:
    """Stop every process still registered, tier by tier (atexit, signals, last resort)."""
    with _lock:
        targets = list(_registry.values())
    for tier in sorted({process.tier for process in targets}):
        stop_many([process for process in targets if process.tier == tier], grace_s)


def _at_exit() -> None:
    stop_all()
    remove_workdir(_session_root)


def live_pids() -> list[int]:
    """PIDs the harness started that are still running (or not yet reaped)."""
    with _lock:
        return [pid for pid, process in _registry.items() if process.alive()]


def registered() -> list[ManagedProcess]:
    with _lock:
        return list(_registry.values())


def _on_signal(signum: int, frame: FrameType | None, previous: Any) -> None:
    global _stopping
    if _stopping:  # second Ctrl-C while stopping: no more grace
        kill_many(registered())
    else:
        _stopping = True
        try:
            stop_all()
        finally:
            _stopping = False
    if callable(previous):
        previous(signum, frame)
    elif signum == signal.SIGTERM:
        raise SystemExit(128 + signum)
    else:
        raise KeyboardInterrupt


def install_handlers() -> None:
    """atexit plus SIGINT/SIGTERM handlers that chain to whatever was installed before."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    atexit.register(_at_exit)
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN,):
            continue

        def handler(num: int, frame: FrameType | None, previous: Any = previous) -> None:
            _on_signal(num, frame, previous)

        signal.signal(signum, handler)
