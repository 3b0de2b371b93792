"""Where a starting proxy's switch state comes from: the store, or (first boot only) the config.

Pure: the app loads the store, passes what it read here, and applies the answer before it opens a
listener. The rules:

- nothing stored: the config's `active` at epoch 0, and that is the first thing written;
- something stored: it wins over the config, always; a disagreement is said (log and /v1/status),
  because an operator who edits `active` in the config after a switch expects it to matter;
- the stored active cluster must still be in the config, else the start is refused: routing to a
  cluster the proxy has no address for is not a state it can resume;
- a switch record that was not final when the process stopped is closed here: `aborted` if no flip
  was persisted for it (the fences were in memory only, so the restart lifted them, which is what an
  abort does), `succeeded` if its flip was persisted (the point of no return had passed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.state.snapshot import PRODUCER_ID_RECORDS, SWITCH_RECORDS, ClusterState, StoredState
from proxy.state.store import StateStoreError

FIRST_BOOT = "config"
STORED = "state"


@dataclass(frozen=True, slots=True)
class Resumed:
    cluster: ClusterState
    source: str
    """`state` (read from the store) or `config` (first boot, nothing stored)."""
    note: str | None = None
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    closed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Records this resume closed (interrupted switches); the caller writes them back."""
    producer_ids: Mapping[str, Any] = field(default_factory=dict)
    """Stored origins of transactional producers' ids (`ProducerIdOrigins.restore` takes them)."""


def resume(stored: StoredState | None, config_active: str, clusters: Collection[str], where: str) -> Resumed:
    if stored is None:
        return Resumed(cluster=ClusterState(config_active, 0), source=FIRST_BOOT,
                       note=f"nothing stored in {where}: first boot on the config's active cluster {config_active}")
    cluster = stored.cluster
    if cluster.active not in clusters:
        raise StateStoreError(f"{where} says the active cluster is {cluster.active!r} (epoch {cluster.epoch}), "
                              f"which the config does not define (clusters: {', '.join(sorted(clusters))})")
    note = None
    if cluster.active != config_active:
        note = (f"{where} says active {cluster.active} at epoch {cluster.epoch}; the config's active "
                f"{config_active} is only the first-boot value and is ignored")
    records = dict(stored.of_kind(SWITCH_RECORDS))
    closed = {key: _closed(record, cluster) for key, record in records.items() if not _final(record)}
    return Resumed(cluster=cluster, source=STORED, note=note, records={**records, **closed}, closed=closed,
                   producer_ids=dict(stored.of_kind(PRODUCER_ID_RECORDS)))


def _final(record: Any) -> bool:
    return not isinstance(record, dict) or record.get("final") is True


def _closed(record: dict[str, Any], cluster: ClusterState) -> dict[str, Any]:
    flipped = isinstance(record.get("epoch_before"), int) and cluster.epoch > record["epoch_before"] \
        and cluster.active == record.get("target")
    phase = record.get("phase")
    if flipped:
        outcome, end_phase = "succeeded", "done"
        reason = (f"the proxy stopped in phase {phase} after the flip was persisted; it resumed on "
                  f"{cluster.active} at epoch {cluster.epoch} (no fetch hold after the restart)")
    else:
        outcome, end_phase = "aborted", "aborted"
        reason = (f"the proxy stopped in phase {phase} before a flip was persisted; it resumed on "
                  f"{cluster.active} at epoch {cluster.epoch} with the switch's fences lifted")
    evidence = dict(record.get("evidence") or {})
    evidence["notes"] = [*evidence.get("notes", []), f"interrupted: {reason}"]
    return {**record, "phase": end_phase, "final": True, "outcome": outcome, "reason": reason,
            "epoch_after": cluster.epoch if flipped else record.get("epoch_after"), "evidence": evidence}
