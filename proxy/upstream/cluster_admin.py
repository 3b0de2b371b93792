"""The proxy's own admin reads and writes against one cluster, for the switch's gates.

A planned switch must prove, not assume, that the target holds everything: end offsets and the
last data record of every partition on the source, open transactions, how far MirrorMaker 2 has
copied, and every group's committed offsets on both sides. This module asks the brokers directly
through `KafkaConnection`, one connection per broker, names (not topic ids) on every request so the
same code works on both clusters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import construct as cs

from protocol.messages import (
    describe_transactions,
    fetch,
    find_coordinator,
    init_producer_id,
    list_groups,
    list_offsets,
    list_transactions,
    metadata,
    offset_commit,
    offset_fetch,
)
from protocol.record_batch import RecordBatchHeader
from protocol.records import CONTROL_COMMIT, Record, control_type, iter_records
from proxy.security.upstream import PLAINTEXT, UpstreamSecurity
from proxy.upstream.kafka_client import KafkaClientError, KafkaConnection

TopicPartition = tuple[str, int]
LATEST, EARLIEST = -1, -2
OFFSET_OUT_OF_RANGE = 1
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
OPEN_TRANSACTION_STATES = ["Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"]
RETRY_LATER = frozenset({14, 15, 16, 51})
"""COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS."""
ABORT_TIMEOUT_MS = 60_000


class AdminError(Exception):
    """A gate could not be read from a cluster (unreachable, or a broker error)."""


class OffsetOutOfRange(AdminError):
    """A read below the partition's log start offset: retention or DeleteRecords removed it."""


class RetriableAdminError(AdminError):
    """A broker answered "not now" (coordinator loading or moved, offsets pending in a transaction)."""


UNSTABLE_OFFSET_COMMIT = 88


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """A transaction not yet completed; `open_ms` is its age (-1 when the coordinator did not say)."""

    transactional_id: str
    producer_id: int
    state: str
    open_ms: int


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    leader: int
    internal: bool


def is_replicated_topic(name: str, internal: bool) -> bool:
    """Topics MM2 copies with the identity policy (not internal, not MM2's own bookkeeping)."""
    return not (internal or name.startswith("__") or name.endswith(".internal") or name == "heartbeats"
                or name.startswith("mm2-") or name.endswith(".heartbeats"))


class ClusterAdmin:
    """Connections to every broker of one cluster, opened lazily and kept until `close`."""

    def __init__(self, name: str, bootstrap: list[tuple[str, int]], timeout_s: float = 10.0,
                 security: UpstreamSecurity = PLAINTEXT) -> None:
        self.name = name
        self.security = security
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.brokers: dict[int, tuple[str, int]] = {}
        self._conns: dict[int | tuple[str, int], KafkaConnection] = {}

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

    async def _conn(self, node: int | None = None) -> KafkaConnection:
        """A kept connection, or a new one where the broker closed the kept one (idle for longer
        than its connections.max.idle.ms, between two switches) instead of failing the check."""
        for stale in [k for k, c in self._conns.items() if c.closed]:
            conn = self._conns.pop(stale, None)  # another request running at once may have closed it already
            if conn is not None:
                await conn.close()
        key: int | tuple[str, int]
        if node is None:
            for address in self.bootstrap:
                if address in self._conns:
                    return self._conns[address]
            errors = []
            for address in self.bootstrap:
                try:
                    self._conns[address] = await KafkaConnection.open(*address, client_id="kfp-switch",
                                                                      timeout_s=self.timeout_s,
                                                                      security=self.security)
                    return self._conns[address]
                except KafkaClientError as exc:
                    errors.append(str(exc))
            raise AdminError(f"cluster {self.name} unreachable: {'; '.join(errors)}")
        key = node
        if key not in self._conns:
            if node not in self.brokers:
                await self.partitions()
            host, port = self.brokers[node]
            try:
                self._conns[key] = await KafkaConnection.open(host, port, client_id="kfp-switch",
                                                              timeout_s=self.timeout_s, security=self.security)
            except KafkaClientError as exc:
                raise AdminError(f"cluster {self.name} broker {node}: {exc}") from exc
        return self._conns[key]

    async def _request(self, module: object, body: object, node: int | None = None, highest: int | None = None
                       ) -> cs.Container:
        conn = await self._conn(node)
        try:
            version = conn.pick_version(module, highest)  # type: ignore[arg-type]
            return await conn.request(module, version, body, self.timeout_s)  # type: ignore[arg-type]
        except KafkaClientError as exc:
            await self._forget(conn)
            raise AdminError(f"cluster {self.name}: {exc}") from exc

    async def request(self, module: object, body: object, node: int | None = None, highest: int | None = None
                      ) -> cs.Container:
        """One request on a kept connection, for readers beside this module (the governance reader)."""
        return await self._request(module, body, node, highest)

    async def _forget(self, conn: KafkaConnection) -> None:
        """Drop a connection that failed, so the next request opens a fresh one."""
        for key, known in list(self._conns.items()):
            if known is conn:
                del self._conns[key]
        await conn.close()

    async def partitions(self) -> dict[TopicPartition, PartitionInfo]:
        """Every partition of every topic, with its leader, from one Metadata call."""
        response = await self._request(metadata, {"Topics": None, "AllowAutoTopicCreation": False}, highest=12)
        self.brokers = {b.NodeId: (b.Host, b.Port) for b in response.Brokers}
        out = {}
        for topic in response.Topics:
            if topic.ErrorCode != 0:
                continue
            for p in topic.Partitions:
                out[(topic.Name, p.PartitionIndex)] = PartitionInfo(p.LeaderId, bool(topic.get("IsInternal")))
        return out

    async def replicated_partitions(self) -> dict[TopicPartition, PartitionInfo]:
        return {tp: info for tp, info in (await self.partitions()).items()
                if is_replicated_topic(tp[0], info.internal)}

    async def end_offsets(self, parts: dict[TopicPartition, PartitionInfo], isolation: int = READ_UNCOMMITTED,
                          timestamp: int = LATEST) -> dict[TopicPartition, int]:
        """ListOffsets at `timestamp`: log end offsets (LATEST, READ_UNCOMMITTED), last stable offsets
        (LATEST, READ_COMMITTED) or log start offsets (EARLIEST)."""
        out: dict[TopicPartition, int] = {}
        for leader, tps in _by_leader(parts).items():
            body = {"ReplicaId": -1, "IsolationLevel": isolation, "Topics": [
                {"Name": topic, "Partitions": [
                    {"PartitionIndex": p, "CurrentLeaderEpoch": -1, "Timestamp": timestamp} for p in partitions]}
                for topic, partitions in _group(tps).items()]}
            response = await self._request(list_offsets, body, leader)
            for topic in response.Topics:
                for p in topic.Partitions:
                    if p.ErrorCode != 0:
                        raise AdminError(f"ListOffsets {topic.Name}-{p.PartitionIndex} error {p.ErrorCode}")
                    out[(topic.Name, p.PartitionIndex)] = p.Offset
        missing = set(parts) - set(out)
        if missing:
            raise AdminError(f"ListOffsets: no answer for {sorted(missing)}")
        return out

    async def read_partition(self, tp: TopicPartition, leader: int, start: int, max_bytes: int = 4 << 20
                             ) -> bytes:
        """Raw record batches of one partition from `start` (one Fetch, read_uncommitted)."""
        body = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": max_bytes, "IsolationLevel": 0,
                "SessionId": 0, "SessionEpoch": -1, "Topics": [{"Topic": tp[0], "Partitions": [
                    {"Partition": tp[1], "CurrentLeaderEpoch": -1, "FetchOffset": start, "LastFetchedEpoch": -1,
                     "LogStartOffset": -1, "PartitionMaxBytes": max_bytes}]}],
                "ForgottenTopicsData": [], "RackId": ""}
        response = await self._request(fetch, body, leader, highest=12)
        for topic in response.Responses:
            for p in topic.Partitions:
                if p.ErrorCode == OFFSET_OUT_OF_RANGE:
                    raise OffsetOutOfRange(f"Fetch {tp[0]}-{tp[1]} at {start}: below the log start")
                if p.ErrorCode != 0:
                    raise AdminError(f"Fetch {tp[0]}-{tp[1]} error {p.ErrorCode}")
                return bytes(p.Records or b"")
        return b""

    async def read_all(self, tp: TopicPartition, leader: int, end: int, start: int = 0
                       ) -> list[tuple[int, bytes | None, bytes | None]]:
        """(offset, key, value) of every data record in [start, end)."""
        return [(record.offset, record.key, record.value)
                for header, record in await self.read_records(tp, leader, start, end)
                if not header.is_control and start <= record.offset < end]

    async def last_committed_data_offset(self, tp: TopicPartition, leader: int, end: int) -> int:
        """Offset of the last record a read_committed reader sees below `end` (-1 if none).

        Control markers and aborted transactional batches are not data: MM2 (read_committed) never
        copies them, so "caught up" is measured against this offset, not against end - 1.
        """
        window = 64
        while True:
            start = max(0, end - window)
            committed = committed_data(await self.read_records(tp, leader, start, end))
            if committed or start == 0:
                return committed[-1].offset if committed else -1
            window *= 8

    async def log_start_offset(self, tp: TopicPartition, leader: int) -> int:
        """The first offset the partition still holds (retention and DeleteRecords move it)."""
        starts = await self.end_offsets({tp: PartitionInfo(leader, internal=False)}, timestamp=EARLIEST)
        return starts[tp]

    async def committed_records(self, tp: TopicPartition, leader: int, start: int, end: int) -> list[Record]:
        """The data records a read_committed reader sees in [start, end), in offset order.

        A transaction still open at `end` is left out (its outcome is unknown yet), as it is by
        MM2's read_committed consumer.
        """
        return [r for r in committed_data(await self.read_records(tp, leader, start, end)) if start <= r.offset < end]

    async def read_records(self, tp: TopicPartition, leader: int, start: int, end: int
                           ) -> list[tuple[RecordBatchHeader, Record]]:
        """Every record, control markers too, of the whole batches that cover [start, end).

        Records retention or DeleteRecords already removed are skipped: reading starts again at the
        log start, and records of its first batch below it are left out, as a consumer leaves them.
        """
        out: list[tuple[RecordBatchHeader, Record]] = []
        position = start
        while position < end:
            try:
                blob = await self.read_partition(tp, leader, position)
            except OffsetOutOfRange:
                log_start = await self.log_start_offset(tp, leader)
                if log_start <= position:
                    raise
                out = [(h, r) for h, r in out if r.offset >= log_start]
                position = log_start
                continue
            before = position
            floor = position
            for header, record in iter_records(blob):
                if record.offset >= floor or header.is_control:
                    out.append((header, record))
                position = max(position, header.base_offset + header.last_offset_delta + 1)
            if position == before:
                break
        return out

    async def open_transactions(self) -> list[OpenTransaction]:
        """Transactions not yet completed, over every broker (each coordinates a share), with their age.

        A producer that died mid-transaction leaves one open until the coordinator aborts it after
        its transaction.timeout.ms; the age tells the operator which one that is.
        """
        await self.partitions()
        found: dict[str, OpenTransaction] = {}
        # every broker at once: producers wait through this check during a switch (issue 10)
        for on_node in await asyncio.gather(*(self._open_transactions_on(node) for node in sorted(self.brokers))):
            found.update((t.transactional_id, t) for t in on_node)
        return [found[key] for key in sorted(found)]

    async def _open_transactions_on(self, node: int) -> list[OpenTransaction]:
        body = {"StateFilters": OPEN_TRANSACTION_STATES, "ProducerIdFilters": [], "DurationFilter": -1,
                "TransactionalIdPattern": None}
        listed = (await self._request(list_transactions, body, node)).TransactionStates
        if not listed:
            return []
        described = await self._request(describe_transactions,
                                        {"TransactionalIds": [t.TransactionalId for t in listed]}, node)
        now_ms = int(time.time() * 1000)
        started = {t.TransactionalId: t.TransactionStartTimeMs for t in described.TransactionStates
                   if t.ErrorCode == 0}
        return [OpenTransaction(t.TransactionalId, t.ProducerId, t.TransactionState,
                                now_ms - started[t.TransactionalId] if started.get(t.TransactionalId, -1) > 0 else -1)
                for t in listed]

    async def abort_transaction(self, transactional_id: str, timeout_s: float = 30.0) -> dict[str, int]:
        """Abort the open transaction of a producer that is gone, the way its successor would.

        An InitProducerId for the same transactional id makes the coordinator abort the open
        transaction and bump the producer epoch, which also fences the old producer should it still
        be alive. CONCURRENT_TRANSACTIONS means the abort is still being written: asked again.
        """
        deadline = time.monotonic() + timeout_s
        body = {"TransactionalId": transactional_id, "TransactionTimeoutMs": ABORT_TIMEOUT_MS,
                "ProducerId": -1, "ProducerEpoch": -1, "Enable2Pc": False, "KeepPreparedTxn": False}
        while True:
            node = await self._coordinator(transactional_id, key_type=1)
            response = await self._request(init_producer_id, body, node, highest=5)
            if response.ErrorCode == 0:
                return {"producer_id": int(response.ProducerId), "producer_epoch": int(response.ProducerEpoch)}
            if response.ErrorCode not in RETRY_LATER or time.monotonic() > deadline:
                raise AdminError(f"InitProducerId {transactional_id!r} error {response.ErrorCode}")
            await asyncio.sleep(0.2)

    async def group_states(self) -> dict[str, bool]:
        """Consumer group id -> has live members, over every broker (classic and KIP-848 groups)."""
        await self.partitions()
        found: dict[str, bool] = {}
        for node in sorted(self.brokers):
            response = await self._request(list_groups, {"StatesFilter": [], "TypesFilter": []}, node)
            for g in response.Groups:
                if g.ProtocolType in ("consumer", ""):
                    found[g.GroupId] = g.get("GroupState", "Stable") not in ("Empty", "Dead")
        return dict(sorted(found.items()))

    async def _coordinator(self, key: str, key_type: int = 0) -> int:
        """The coordinator of a group (key_type 0) or a transactional id (1)."""
        response = await self._request(find_coordinator, {"Key": key, "KeyType": key_type,
                                                          "CoordinatorKeys": [key]})
        if "Coordinators" in response:
            entry = response.Coordinators[0]
            error, node, host, port = entry.ErrorCode, entry.NodeId, entry.Host, entry.Port
        else:
            error, node, host, port = response.ErrorCode, response.NodeId, response.Host, response.Port
        if error != 0:
            raise AdminError(f"FindCoordinator {key} error {error}")
        self.brokers.setdefault(node, (host, port))
        return int(node)

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        """Committed offsets of a group (all partitions it has offsets for)."""
        node = await self._coordinator(group)
        body = {"GroupId": group, "Topics": None, "RequireStable": True,
                "Groups": [{"GroupId": group, "MemberId": None, "MemberEpoch": -1, "Topics": None}]}
        deadline = time.monotonic() + self.timeout_s
        while True:
            response = await self._request(offset_fetch, body, node, highest=9)
            try:
                return committed_offsets_in(response, group)
            except RetriableAdminError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                node = await self._coordinator(group)

    async def commit(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        """Write offsets for a group that has no live members here (admin-style commit)."""
        node = await self._coordinator(group)
        body = {"GroupId": group, "GenerationIdOrMemberEpoch": -1, "MemberId": "", "GroupInstanceId": None,
                "RetentionTimeMs": -1, "Topics": [
                    {"Name": topic, "Partitions": [{"PartitionIndex": p, "CommittedOffset": offsets[(topic, p)],
                                                    "CommittedLeaderEpoch": -1, "CommittedMetadata": ""}
                                                   for p in partitions]}
                    for topic, partitions in _group(offsets).items()]}
        response = await self._request(offset_commit, body, node, highest=9)
        for topic in response.Topics:
            for p in topic.Partitions:
                if p.ErrorCode != 0:
                    raise AdminError(f"OffsetCommit {group} {topic.Name}-{p.PartitionIndex} error {p.ErrorCode}")


def committed_offsets_in(response: cs.Container, group: str) -> dict[TopicPartition, int]:
    """The committed offsets an OffsetFetch response carries, or an error: never a silent gap.

    A group-level or top-level error (coordinator loading, not coordinator) and a partition-level
    one (UNSTABLE_OFFSET_COMMIT: a transactional commit still pending) mean "ask again"; skipping
    them would carry the group across a switch without those offsets.
    """
    if "Groups" in response:
        entry = response.Groups[0]
        error, topics = entry.ErrorCode, entry.Topics
    else:
        error, topics = response.get("ErrorCode", 0), response.Topics
    if error:
        raise _fetch_error(group, error, "")
    out: dict[TopicPartition, int] = {}
    for topic in topics:
        for p in topic.Partitions:
            if p.ErrorCode:
                raise _fetch_error(group, p.ErrorCode, f" {topic.Name}-{p.PartitionIndex}")
            if p.CommittedOffset >= 0:
                out[(topic.Name, p.PartitionIndex)] = p.CommittedOffset
    return out


def _fetch_error(group: str, code: int, where: str) -> AdminError:
    kind = RetriableAdminError if code in RETRY_LATER or code == UNSTABLE_OFFSET_COMMIT else AdminError
    return kind(f"OffsetFetch {group}{where} error {code}")


def _group(tps: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, partition in sorted(tps):
        out.setdefault(topic, []).append(partition)
    return out


def _by_leader(parts: dict[TopicPartition, PartitionInfo]) -> dict[int, list[TopicPartition]]:
    out: dict[int, list[TopicPartition]] = {}
    for tp, info in parts.items():
        out.setdefault(info.leader, []).append(tp)
    return out


def committed_data(batches: list[tuple[RecordBatchHeader, Record]]) -> list[Record]:
    """Walk batches in order; transactional data counts once its COMMIT marker is seen."""
    out: list[Record] = []
    pending: dict[int, list[Record]] = {}
    for header, record in batches:
        if header.is_control:
            finished = pending.pop(header.producer_id, [])
            if control_type(record) == CONTROL_COMMIT:
                out.extend(finished)
        elif header.is_transactional:
            pending.setdefault(header.producer_id, []).append(record)
        else:
            out.append(record)
    out.sort(key=lambda r: r.offset)
    return out
