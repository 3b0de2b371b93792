"""What a state store holds, and its versioned JSON form.

A `StoredState` is everything that must outlive one proxy process: the active cluster and the switch
epoch (they move together, only at a flip), the fences an operator put up, and records grouped by
kind (`switch` records today, the same JSON `GET /v1/switch/{id}` answers; room for a topic-id map or
scorecard evidence later, each under its own kind). The JSON carries a format name and a version:
a file from a newer proxy is refused instead of half-read, and an older one can be upgraded here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FORMAT = "kafka-failover-proxy/switch-state"
VERSION = 1
SWITCH_RECORDS = "switch"
PRODUCER_ID_RECORDS = "producer_ids"
"""transactional id -> the cluster that issued its producer id (proxy.switch.machine.producer_ids)."""


class StateFormatError(Exception):
    """Stored bytes that are not a switch state this proxy can read (corrupt, foreign, too new)."""


@dataclass(frozen=True, slots=True)
class ClusterState:
    """The part a switch changes atomically: compare-and-swap moves all three together."""

    active: str
    epoch: int
    operator_fenced: bool = False


@dataclass(frozen=True, slots=True)
class StoredState:
    cluster: ClusterState
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """kind -> key -> JSON-safe value."""

    def with_cluster(self, cluster: ClusterState) -> StoredState:
        return replace(self, cluster=cluster)

    def with_record(self, kind: str, key: str, value: Any) -> StoredState:
        """`value` None removes the record."""
        kinds = {k: dict(v) for k, v in self.records.items()}
        if value is None:
            kinds.get(kind, {}).pop(key, None)
        else:
            kinds.setdefault(kind, {})[key] = value
        return replace(self, records={k: v for k, v in kinds.items() if v})

    def of_kind(self, kind: str) -> Mapping[str, Any]:
        return self.records.get(kind, {})


def encode(state: StoredState) -> bytes:
    cluster = state.cluster
    doc = {"format": FORMAT, "version": VERSION, "active": cluster.active, "epoch": cluster.epoch,
           "fences": {"operator": cluster.operator_fenced},
           "records": {kind: dict(values) for kind, values in state.records.items()}}
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def decode(data: bytes, where: str) -> StoredState:
    """Parse stored bytes; anything unexpected is a StateFormatError naming `where` and the problem."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateFormatError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateFormatError(f"{where}: not a kafka-failover-proxy switch state (format {_get(doc, 'format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateFormatError(f"{where}: bad version {version!r}")
    if version > VERSION:
        raise StateFormatError(f"{where}: version {version} was written by a newer proxy (this one reads "
                               f"up to {VERSION}); upgrade the proxy instead of discarding the state")
    return StoredState(cluster=_cluster(doc, where), records=_records(doc.get("records", {}), where))


def _get(doc: object, key: str) -> object:
    return doc.get(key) if isinstance(doc, dict) else None


def _cluster(doc: dict[str, Any], where: str) -> ClusterState:
    active, epoch, fences = doc.get("active"), doc.get("epoch"), doc.get("fences", {})
    if not isinstance(active, str) or not active:
        raise StateFormatError(f"{where}: 'active' must be a cluster name, got {active!r}")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise StateFormatError(f"{where}: 'epoch' must be an integer >= 0, got {epoch!r}")
    operator = fences.get("operator", False) if isinstance(fences, dict) else None
    if not isinstance(operator, bool):
        raise StateFormatError(f"{where}: 'fences.operator' must be true or false, got {operator!r}")
    return ClusterState(active=active, epoch=epoch, operator_fenced=operator)


def _records(raw: object, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise StateFormatError(f"{where}: 'records' must map each kind to a mapping of key -> record")
    return {str(kind): dict(values) for kind, values in raw.items()}
