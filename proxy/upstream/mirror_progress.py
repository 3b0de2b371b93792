"""How far MirrorMaker 2 has copied each partition, read from MM2's own topics on the target.

Two topics prove a partition caught up (protocol reference, section 6):

- `mm2-offsets.<source>.internal` (Connect source offsets, JSON): per source partition the last
  upstream record MM2 has replicated and committed;
- `mm2-offset-syncs.<source>.internal` (offset-syncs.topic.location=target; a real 4.4 MM2 names
  it after the cluster it does not live on, the source here): pairs (upstream,
  downstream) saying which target record holds which source record. Even with offset.lag.max=0
  they are sparse and not promised: MM2 keeps one pending sync per partition, sends at most ten at
  a time, drops the pending ones when its task restarts (every time it discovers a new topic) and
  never re-sends a failed one. So the switch uses them where present and proves positions by
  comparing records otherwise (`proxy.upstream.position_prover`).

Both are read incrementally: each check fetches only what was appended since the last one.
"""

from __future__ import annotations

import asyncio
import copy
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol.errors import ProtocolError
from proxy.log import switch as log
from proxy.switch.machine.progress import OffsetSync
from proxy.upstream.cluster_admin import ClusterAdmin, PartitionInfo, TopicPartition

_SYNC_KEY_LEN = struct.Struct(">h")
_SYNC_KEY_PARTITION = struct.Struct(">i")
_SYNC_VALUE = struct.Struct(">qq")
MAX_SYNCS_KEPT = 4096


@dataclass
class _TopicReader:
    """Read position of each partition of one internal topic."""

    name: str
    positions: dict[int, int] = field(default_factory=dict)


class MirrorProgressReader:
    """Keeps the mirrored offsets and offset syncs of one source -> target flow up to date."""

    def __init__(self, source: str, target: str) -> None:
        self.offsets_topic = _TopicReader(f"mm2-offsets.{source}.internal")
        self.syncs_topic = _TopicReader(f"mm2-offset-syncs.{source}.internal")
        self.source = source
        self.mirrored: dict[TopicPartition, int] = {}
        self.syncs: dict[TopicPartition, list[OffsetSync]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self) -> None:
        """Return once no refresh of this reader is running (at once if none is)."""
        await self._idle.wait()

    def copy(self) -> MirrorProgressReader:
        """An independent reader that goes on from where this one is (positions, offsets, syncs).

        Safe at any await point of a refresh: a partition's records and its new position are applied
        with no await between them, so the copy never holds half a read.
        """
        twin = MirrorProgressReader.__new__(MirrorProgressReader)
        twin.__dict__.update(copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_idle"}))
        twin._idle = asyncio.Event()
        twin._idle.set()
        return twin

    async def refresh(self, target: ClusterAdmin, note: Callable[[str], None] = lambda _text: None) -> None:
        """Read what MM2 appended since the last refresh; `note` is told which partition is being read."""
        self._idle.clear()
        try:
            parts = await target.partitions()
            await self._read(target, parts, self.offsets_topic, self._on_offset, note)
            await self._read(target, parts, self.syncs_topic, self._on_sync, note)
        finally:
            self._idle.set()

    async def _read(self, admin: ClusterAdmin, parts: dict[TopicPartition, PartitionInfo], reader: _TopicReader,
                    handle: Callable[[bytes | None, bytes | None], None], note: Callable[[str], None]) -> None:
        mine = {tp: info for tp, info in parts.items() if tp[0] == reader.name}
        if not mine:
            return
        note(f"end offsets of {reader.name}")
        ends = await admin.end_offsets(mine)
        for tp, info in mine.items():
            start = reader.positions.get(tp[1], 0)
            if ends[tp] <= start:
                continue
            note(f"reading {reader.name}-{tp[1]} offsets {start}..{ends[tp]}")
            for offset, key, value in await admin.read_all(tp, info.leader, ends[tp], start):
                try:
                    handle(key, value)
                except (ValueError, KeyError, TypeError, struct.error, ProtocolError) as exc:
                    log.warning("skipping unreadable record %s-%d@%d: %s", reader.name, tp[1], offset, exc)
            reader.positions[tp[1]] = ends[tp]

    def _on_offset(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        connector, partition = json.loads(key)
        if connector != "MirrorSourceConnector" or partition.get("cluster") != self.source:
            return
        tp = (partition["topic"], int(partition["partition"]))
        if value is None:
            self.mirrored.pop(tp, None)
        else:
            self.mirrored[tp] = int(json.loads(value)["offset"])

    def _on_sync(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return
        (length,) = _SYNC_KEY_LEN.unpack_from(key)
        topic = key[2:2 + length].decode()
        (partition,) = _SYNC_KEY_PARTITION.unpack_from(key, 2 + length)
        upstream, downstream = _SYNC_VALUE.unpack_from(value)
        syncs = self.syncs.setdefault((topic, partition), [])
        syncs.append((upstream, downstream))
        if len(syncs) > MAX_SYNCS_KEPT:
            del syncs[: len(syncs) - MAX_SYNCS_KEPT]

    def exact_sync(self, tp: TopicPartition, upstream: int | None) -> OffsetSync | None:
        if upstream is None:
            return None
        for sync in reversed(self.syncs.get(tp, [])):
            if sync[0] == upstream:
                return sync
        return None
