"""A store in process memory: what a proxy without a state path uses (and unit tests).

Nothing survives a restart, which `persistent = False` tells /v1/status and the start-up log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from proxy.state.snapshot import ClusterState, StoredState
from proxy.state.store import StateConflict


class MemoryStateStore:
    persistent = False
    description = "memory (not persisted: a restart starts from the config's active cluster)"

    def __init__(self, initial: StoredState | None = None) -> None:
        self.state = initial
        self._changed = asyncio.Event()

    async def load(self) -> StoredState | None:
        return self.state

    async def compare_and_swap(self, expected_epoch: int, cluster: ClusterState) -> StoredState:
        current = self.state
        if current is not None and current.cluster.epoch != expected_epoch:
            raise StateConflict(f"stored epoch is {current.cluster.epoch}, expected {expected_epoch}")
        self.state = StoredState(cluster) if current is None else current.with_cluster(cluster)
        self._changed.set()
        return self.state

    async def put_record(self, kind: str, key: str, value: Any) -> None:
        if self.state is None:
            raise StateConflict("no cluster state stored yet: compare_and_swap first")
        self.state = self.state.with_record(kind, key, value)

    async def watch(self, every_s: float) -> AsyncIterator[StoredState]:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self.state is not None:
                yield self.state

    async def close(self) -> None:
        return None
