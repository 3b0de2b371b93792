"""The default store: one JSON file, replaced atomically on every change.

Why this write order: the new state goes to `<file>.tmp`, is fsynced, renamed over `<file>`, and
the directory is fsynced. A crash at any point leaves either the old file or the new one, never a
mix: a torn `.tmp` is never read (and is overwritten by the next write), and the rename only becomes
durable with the directory's fsync, which is why a write returns only after it.

One proxy owns a file: `<file>.lock` is held with flock for the life of the store, so a second
proxy pointed at the same path refuses to start instead of overwriting the first one's epoch.
Reading it is strict: a file that exists but cannot be read or parsed is an error, never "no
state", because falling back to the config's active cluster is exactly the silent failure this
store exists to prevent.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from proxy.log import state as log
from proxy.state.snapshot import ClusterState, StateFormatError, StoredState, decode, encode
from proxy.state.store import StateConflict, StateStoreError


class FileStateStore:
    persistent = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.temp_path = self.path.with_name(self.path.name + ".tmp")
        self.description = f"file {self.path}"
        self._lock_file: IO[bytes] | None = None
        self._state: StoredState | None = None
        self._write = asyncio.Lock()  # one write at a time, in the order they were asked for

    # -- interface ------------------------------------------------------------------------------------

    async def load(self) -> StoredState | None:
        self._take_lock()
        self._state = await asyncio.to_thread(self._read)
        return self._state

    async def compare_and_swap(self, expected_epoch: int, cluster: ClusterState) -> StoredState:
        async with self._write:
            on_disk = await asyncio.to_thread(self._read)
            if on_disk is not None and on_disk.cluster.epoch != expected_epoch:
                raise StateConflict(f"{self.path} holds epoch {on_disk.cluster.epoch}, expected {expected_epoch}: "
                                    "another writer changed it")
            base = on_disk if on_disk is not None else self._state
            new = StoredState(cluster) if base is None else base.with_cluster(cluster)
            await asyncio.to_thread(self._replace, new)
            self._state = new
            return new

    async def put_record(self, kind: str, key: str, value: Any) -> None:
        async with self._write:
            if self._state is None:
                raise StateStoreError(f"{self.path}: no cluster state stored yet")
            new = self._state.with_record(kind, key, value)
            await asyncio.to_thread(self._replace, new)
            self._state = new

    async def watch(self, every_s: float) -> AsyncIterator[StoredState]:
        """Poll the file: a single proxy is its only writer, so this only reports hand edits and
        restores; what it yields feeds the `kfp_state_*` gauges the disagreement alert compares."""
        seen: bytes | None = None
        while True:
            try:
                data = await asyncio.to_thread(self.path.read_bytes)
            except OSError as exc:
                log.warning("state file %s unreadable: %s", self.path, exc)
            else:
                if data != seen:
                    try:
                        state = decode(data, str(self.path))
                    except StateFormatError as exc:
                        log.error("state file changed under the proxy and is invalid: %s", exc)
                    else:
                        seen = data
                        yield state
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    # -- files ----------------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        if self._lock_file is not None:
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock_file = open(lock_path, "ab")  # noqa: SIM115 - held open for the life of the store
        except OSError as exc:
            raise StateStoreError(f"cannot open lock file {lock_path}: {exc}") from None
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            raise StateStoreError(f"{self.path} is in use by another proxy process (lock {lock_path} held)") from None
        self._lock_file = lock_file

    def _read(self) -> StoredState | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            if not self.path.parent.is_dir():
                raise StateStoreError(f"state directory {self.path.parent} does not exist") from None
            return None
        except OSError as exc:
            raise StateStoreError(f"cannot read state file {self.path}: {exc}") from None
        try:
            return decode(data, str(self.path))
        except StateFormatError as exc:
            raise StateStoreError(f"state file is corrupt: {exc}") from None

    def _replace(self, state: StoredState) -> None:
        data = encode(state)
        try:
            fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.temp_path, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise StateStoreError(f"cannot write state file {self.path}: {exc}") from None
