"""The interface every switch-state backend implements, and its errors.

Four operations, chosen so the same executor code drives a single proxy's file and a fleet's etcd:

- `load()`: the stored state, or None on first boot (nothing stored yet);
- `compare_and_swap(expected_epoch, cluster)`: replace active/epoch/fences only if the stored epoch
  is still `expected_epoch` (a flip is epoch -> epoch + 1; a fence keeps the epoch), else
  `StateConflict`; this is what makes "exactly one instance flips" possible on a shared store;
- `put_record(kind, key, value)`: store one JSON record (a switch record after each phase, the origin
  of a transactional producer's id); `value` None deletes it;
- `watch()`: the stored state each time it changes, so an instance follows writes it did not make.

Every method may raise `StateStoreError`; the caller decides whether that aborts (a flip that could
not be persisted never happens) or is only reported (a record that could not be written).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from proxy.state.snapshot import ClusterState, StoredState


class StateStoreError(Exception):
    """The store could not be read or written; the message says which and why."""


class StateConflict(StateStoreError):
    """A compare-and-swap found another epoch than expected: someone else changed the state."""


class SwitchStateStore(Protocol):
    description: str
    """Where the state lives, for logs and /v1/status (`file /var/lib/kfp/state.json`)."""
    persistent: bool

    async def load(self) -> StoredState | None: ...

    async def compare_and_swap(self, expected_epoch: int, cluster: ClusterState) -> StoredState: ...

    async def put_record(self, kind: str, key: str, value: Any) -> None: ...

    def watch(self, every_s: float) -> AsyncIterator[StoredState]: ...

    async def close(self) -> None: ...


class FleetCoordinator(Protocol):
    """How one switch moves every instance of a fleet (etcd: `proxy.state.etcd_fleet.EtcdFleet`).

    The leader announces the switch (`phase` fence, then its outcome); followers fence, drain and
    acknowledge; the leader's drain waits for every registered instance; the flip is the leader's
    compare-and-swap, which followers see through the store's watch and follow.
    """

    instance_id: str

    async def announce(self, intent: dict[str, Any]) -> None: ...

    async def ack_drained(self, switch_id: str, evidence: dict[str, Any]) -> None: ...

    async def not_drained(self, switch_id: str) -> list[str]: ...

    async def members(self) -> list[dict[str, Any]]: ...

    def intents(self) -> AsyncIterator[dict[str, Any]]: ...
