"""The client inventory: which libraries and versions talk to the proxy, and what they ask for.

Kept cheap and bounded: per request one dict increment keyed by (api key, version) from the header
the data plane already parsed; only ApiVersions bodies are decoded (once per connection, for
KIP-511's ClientSoftwareName/Version). Counts aggregate per library+version (at most MAX_SHAPES,
then "other"), and per connection only the shape it belongs to is kept, dropped on close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol import schema
from protocol.messages import api_versions

MAX_SHAPES = 256
MAX_NAME = 64
UNKNOWN = ("unknown", "unknown")  # ApiVersions v0-2 carries no software name
OTHER = ("other", "other")
INIT_PRODUCER_ID, JOIN_GROUP, CONSUMER_GROUP_HEARTBEAT = 22, 11, 68
TRANSACTION_APIS = frozenset({24, 25, 26, 28})  # AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit


@dataclass
class ShapeTally:
    """Everything counted for one library+version."""

    open_connections: int = 0
    total_connections: int = 0
    requests: dict[int, int] = field(default_factory=dict)  # (api_key << 16 | version) -> count
    produce_bytes: int = 0
    first_epoch: int | None = None  # switch epoch when its first connection opened
    last_epoch: int | None = None  # switch epoch of its latest request


class ClientInventory:
    """Aggregated per library+version; the data plane calls `on_request` and `forget`."""

    def __init__(self) -> None:
        self.shapes: dict[tuple[str, str], ShapeTally] = {}
        self._of: dict[int, ShapeTally] = {}  # id(connection): ids are unique while it is open
        self.epoch = 0  # the proxy's switch epoch, kept current by the context

    def on_request(self, client: Any, api_key: int, version: int, frame: memoryview, header_length: int) -> None:
        """Count one request; an ApiVersions v3+ request names the connection's library."""
        tally = self._of.get(id(client))
        if tally is None or api_key == 18:
            tally = self._attach(client, self._software(version, frame[header_length:]) if api_key == 18
                                 else UNKNOWN, tally)
        slot = api_key << 16 | version
        requests = tally.requests
        requests[slot] = requests.get(slot, 0) + 1
        tally.last_epoch = self.epoch
        if api_key == 0:
            tally.produce_bytes += len(frame)

    def forget(self, client: Any) -> None:
        """The connection closed: only its aggregate counts stay."""
        tally = self._of.pop(id(client), None)
        if tally is not None:
            tally.open_connections -= 1

    def _attach(self, client: Any, shape: tuple[str, str], previous: ShapeTally | None) -> ShapeTally:
        if previous is not None:
            if self.shapes.get(shape) is previous:
                return previous
            previous.open_connections -= 1
        tally = self.shapes.get(shape)
        if tally is None:
            if len(self.shapes) >= MAX_SHAPES:
                shape = OTHER
            tally = self.shapes.setdefault(shape, ShapeTally(first_epoch=self.epoch))
        tally.open_connections += 1
        tally.total_connections += 1
        self._of[id(client)] = tally
        return tally

    @staticmethod
    def _software(version: int, body: memoryview) -> tuple[str, str]:
        if version < 3:
            return UNKNOWN
        try:
            decoded = schema.decode(api_versions.REQUEST, version, body)
        except Exception:  # a malformed body is the broker's (here: our answer's) business, not the tally's
            return UNKNOWN
        name = str(decoded.get("ClientSoftwareName") or "unknown")[:MAX_NAME]
        release = str(decoded.get("ClientSoftwareVersion") or "unknown")[:MAX_NAME]
        return name, release

    def snapshot(self) -> list[dict[str, Any]]:
        """JSON-able shapes, for the scorecard's evidence."""
        out = []
        for (name, release), tally in sorted(self.shapes.items()):
            apis: dict[int, list[int]] = {}
            for slot in tally.requests:
                key, version = slot >> 16, slot & 0xFFFF
                low, high = apis.get(key, [version, version])
                apis[key] = [min(low, version), max(high, version)]
            out.append({
                "library": name, "version": release, "open_connections": tally.open_connections,
                "total_connections": tally.total_connections,
                "requests": sum(tally.requests.values()),
                "apis": {str(k): v for k, v in sorted(apis.items())},
                "idempotent": INIT_PRODUCER_ID in apis, "transactional": bool(TRANSACTION_APIS & apis.keys()),
                "kip848_group": CONSUMER_GROUP_HEARTBEAT in apis, "classic_group": JOIN_GROUP in apis,
                "produce_bytes": tally.produce_bytes,
                "first_epoch": tally.first_epoch, "last_epoch": tally.last_epoch,
            })
        return out
