"""The switch's data-plane side: which requests the proxy answers itself while a switch runs.

`SwitchInterceptor` sits in every connection's request path (`ProxyContext.interceptors`). It is cheap for
every API it does not care about (one set lookup). It applies the fences decided by
`proxy.switch.machine.fencing`, holds consumer fetches after a flip until the client has rejoined its group
on the new cluster, clears stale producer ids from InitProducerId after a switch, and watches
responses to know which transactions are open and which clients rejoined. After a switch it also
turns the target's GROUP_ID_NOT_FOUND to a KIP-848 member that brings an epoch from the source
into the fence that makes it rejoin (`proxy.switch.member_epochs`), and moves transaction version 2
producers that hold the source's producer id onto one from the target: their transaction is made
abortable and their abort re-initialises them (`proxy.switch.machine.producer_ids`).

While a switch's fence is up, a fenced Produce is held unanswered (`HOLD`) rather than refused, so
the client does not sleep its retry backoff across the flip (see `fencing`); `recycle_holds` bounds it.

Held fetches are answered at once with NOT_LEADER_OR_FOLLOWER per partition (every client backs off,
refreshes metadata and retries), never forwarded: a consumer that has not rejoined still fetches
at the source's positions, which mean other records on the target.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from protocol import schema
from protocol.errors import ProtocolError
from protocol.headers import RequestHeader, read_uvarint, response_header_length
from protocol.messages import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    consumer_group_heartbeat,
    end_txn,
    fetch,
    heartbeat,
    init_producer_id,
    join_group,
    offset_commit,
    produce,
    sync_group,
    txn_offset_commit,
)
from protocol.record_batch import iter_batches
from proxy.dataplane.connection import HOLD, Hold
from proxy.log import switch as log
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from proxy.switch.machine.producer_ids import TRANSACTION_ABORTABLE, ProducerIdOrigins, StaleProducerVerdict
from proxy.switch.member_epochs import (
    FIRST_MEMBER_EPOCH_COMMIT,
    brings_foreign_epoch,
    fence_unknown_group,
    may_refuse_unknown_group,
    unknown_member_for_unknown_group,
)
from proxy.switch.memberships import ClientKey, Memberships
from proxy.switch.producer_reinit import end_txn_answer, init_producer_id_frame

if TYPE_CHECKING:
    from proxy.dataplane.context import ProxyContext
    from proxy.dataplane.correlation import Pending
    from proxy.dataplane.relay import ClientConnection

_INT32 = struct.Struct(">i")
_INT16 = struct.Struct(">h")
NOT_LEADER_OR_FOLLOWER = 6
GROUP_REQUESTS = frozenset({11, 12, 14, 68})  # JoinGroup, Heartbeat, SyncGroup, ConsumerGroupHeartbeat
TXN_REQUESTS = frozenset({22, 24, 25, 26, 28})
WATCHED = frozenset({0, 1}) | GROUP_REQUESTS | TXN_REQUESTS

Rejoined = Callable[[str, str], None]
_TXN_SPECS = {
    22: (init_producer_id.REQUEST, init_producer_id.RESPONSE),
    24: (add_partitions_to_txn.REQUEST, add_partitions_to_txn.RESPONSE),
    25: (add_offsets_to_txn.REQUEST, add_offsets_to_txn.RESPONSE),
    26: (end_txn.REQUEST, end_txn.RESPONSE),
    28: (txn_offset_commit.REQUEST, txn_offset_commit.RESPONSE),
}


@dataclass(frozen=True, slots=True)
class _Watched:
    """A forwarded request whose answer the interceptor reads, kept until that answer or the connection's close.

    One record per request, so what is known about it (the group to fence, the consumer that may be
    rejoining) is stored and dropped together and cannot outlive the rest.
    """

    api_key: int
    name: str | None  # group id, or transactional id
    fence: bool = False  # GROUP_ID_NOT_FOUND becomes FENCED_MEMBER_EPOCH (member_epochs)
    member: tuple[ClientKey, str] | None = None  # the held consumer and member id a successful join releases


class SwitchInterceptor:
    """Fences, fetch holds and producer-id hygiene, applied per request."""

    def __init__(self, context: ProxyContext, produce_fence: ProduceFence, transactions: TransactionFence) -> None:
        self.context = context
        self.produce_fence = produce_fence
        self.transactions = transactions
        self.clear_producer_ids = False
        self.holding = False
        self.memberships = Memberships()
        self.on_rejoined: Rejoined | None = None
        self.refused_clients: set[ClientConnection] = set()
        self.held_producers: dict[ClientConnection, float] = {}  # connection -> its first held Produce (monotonic)
        self.dropped_acks0 = 0
        self.producer_ids = ProducerIdOrigins()
        self._reinitialising: dict[tuple[int, int], str] = {}  # EndTxn sent as InitProducerId: its txn id
        self._watch: dict[tuple[int, int], _Watched] = {}  # (id(client), correlation id): what its answer tells
        self._pruned_at = time.monotonic()

    # -- switch-facing controls ------------------------------------------------------------------------

    def hold_fetches(self) -> None:
        """Hold every consumer instance that was in a group before the flip until it rejoins."""
        self.holding = True
        self.memberships.hold(time.monotonic())
        self.context.metrics.held_fetches.set(len(self.memberships.held_keys()))

    def release_fetches(self) -> None:
        self.holding = False
        self.memberships.release()
        self.context.metrics.held_fetches.set(0)

    @property
    def held_clients(self) -> list[str]:
        return self.memberships.held_keys()

    def forget(self, client: ClientConnection) -> None:
        """A closed connection: drop what was watched for its requests (answers will never come)."""
        owner = id(client)
        for key in [k for k in self._watch if k[0] == owner]:
            del self._watch[key]
        for key in [k for k in self._reinitialising if k[0] == owner]:
            del self._reinitialising[key]
        self.refused_clients.discard(client)
        self.held_producers.pop(client, None)

    def recycle_holds(self, now: float, limit_s: float) -> int:
        """Close connections holding a Produce for `limit_s` or longer (they resend, to be held again)."""
        expired = [client for client, since in self.held_producers.items() if now - since >= limit_s]
        for client in expired:
            del self.held_producers[client]
            client.close("switch: produce held for its limit; resend")
        return len(expired)

    def connection_entries(self) -> dict[str, int]:
        """Entries held per connection or per request, by map: all zero once every connection closed."""
        return {"watched": len(self._watch), "reinitialising": len(self._reinitialising),
                "refused_clients": len(self.refused_clients), "held_producers": len(self.held_producers)}

    # -- request path ----------------------------------------------------------------------------------

    def intercept(self, client: ClientConnection, header: RequestHeader, frame: memoryview
                  ) -> list[bytes] | Hold | None:
        key = header.api_key
        if key not in WATCHED:
            return None
        body = frame[header.header_length:]
        if key == 0:
            return self._produce(client, header, body)
        if key == 1:
            held = self.holding and self.memberships.held(client_key(client, header))
            return self._fetch(header, body) if held else None
        if key in GROUP_REQUESTS:
            self._note_group_member(client, header, body)
            return None
        return self._transaction(client, header, body)

    def rewrite_request(self, header: RequestHeader, frame: memoryview) -> bytes | None:
        """InitProducerId after a switch: drop the producer id/epoch the client learned elsewhere.
        EndTxn abort of a producer id from another cluster: an InitProducerId for its transactional id."""
        if header.api_key == 26:
            return self._reinitialise_request(header, frame)
        if header.api_key != 22 or not self.clear_producer_ids or header.api_version < 3:
            return None
        request = schema.decode(init_producer_id.REQUEST, header.api_version, frame[header.header_length:])
        if request.ProducerId == -1:
            return None
        request.ProducerId, request.ProducerEpoch = -1, -1
        return bytes(frame[:header.header_length]) + schema.encode(init_producer_id.REQUEST, header.api_version,
                                                                   request)

    def _produce(self, client: ClientConnection, header: RequestHeader, body: memoryview
                 ) -> list[bytes] | Hold | None:
        transactional_id = produce_transactional_id(header.api_version, body)
        if transactional_id is not None and self._stale(header, transactional_id) is StaleProducerVerdict.ABORTABLE:
            request = schema.decode(produce.REQUEST, header.api_version, body)
            return self._answer_produce(header, request, TRANSACTION_ABORTABLE)
        if not self.produce_fence.fenced:
            if transactional_id is not None:  # TV2 (KIP-890): the first Produce opens the transaction
                self.transactions.started(transactional_id, self.producer_ids.timeout_ms(transactional_id))
            return None
        request = schema.decode(produce.REQUEST, header.api_version, body)
        partitions, producer_id = _produce_partitions(request)
        transactional_id = request.get("TransactionalId")
        verdict = self.produce_fence.decide(partitions, producer_id=producer_id, transactional_id=transactional_id)
        if verdict.forward:
            if transactional_id is not None:
                self.transactions.started(transactional_id, self.producer_ids.timeout_ms(transactional_id))
            return None
        self.context.metrics.fenced_request(0).inc()
        self.refused_clients.add(client)
        if request.Acks == 0:
            self.dropped_acks0 += 1
            return []
        if verdict.hold:
            self.held_producers.setdefault(client, time.monotonic())
            return HOLD
        return self._answer_produce(header, request, verdict.error_code)

    def _answer_produce(self, header: RequestHeader, request: Any, error_code: int) -> list[bytes]:
        answer = produce.failed_response(request, header.api_version, error_code)
        return [_frame(header, schema.encode(produce.RESPONSE, header.api_version, answer))]

    def _stale(self, header: RequestHeader, transactional_id: str | None, committed: bool = False
               ) -> StaleProducerVerdict:
        """What to do with a transaction version 2 request whose producer id may be from another cluster."""
        return self.producer_ids.verdict(header.api_key, header.api_version, transactional_id,
                                         self.context.active, committed)

    def _fetch(self, header: RequestHeader, body: memoryview) -> list[bytes]:
        request = schema.decode(fetch.REQUEST, header.api_version, body)
        answer = fetch.empty_response(request, header.api_version, NOT_LEADER_OR_FOLLOWER)
        self.context.metrics.fenced_request(1).inc()
        return [_frame(header, schema.encode(fetch.RESPONSE, header.api_version, answer))]

    def _transaction(self, client: ClientConnection, header: RequestHeader, body: memoryview
                     ) -> list[bytes] | None:
        key, version = header.api_key, header.api_version
        request = schema.decode(_TXN_SPECS[key][0], version, body)
        transactional_id = request.get("TransactionalId", request.get("V3AndBelowTransactionalId"))
        if key == 22 and transactional_id is not None:
            self.producer_ids.requested(transactional_id, request.TransactionTimeoutMs)
        stale = self._stale(header, transactional_id, bool(request.get("Committed")))
        if stale is StaleProducerVerdict.REINITIALISE and transactional_id is not None:
            self._reinitialising[(id(client), header.correlation_id)] = transactional_id
            return None  # rewrite_request sends it as InitProducerId
        code = TRANSACTION_ABORTABLE if stale is StaleProducerVerdict.ABORTABLE else (
            self.transactions.refusal(key, transactional_id))
        if code is None:
            self._watch[(id(client), header.correlation_id)] = _Watched(key, transactional_id)
            return None
        self.context.metrics.fenced_request(key).inc()
        return [_frame(header, schema.encode(_TXN_SPECS[key][1], version, _refusal(key, version, request, code)))]

    def _reinitialise_request(self, header: RequestHeader, frame: memoryview) -> bytes | None:
        """A stale producer's EndTxn abort as InitProducerId(transactional id, -1, -1), same header otherwise."""
        request = schema.decode(end_txn.REQUEST, header.api_version, frame[header.header_length:])
        transactional_id = request.TransactionalId
        if self._stale(header, transactional_id, request.Committed) is not StaleProducerVerdict.REINITIALISE:
            return None
        self.context.metrics.rewrite(26).inc()
        return init_producer_id_frame(header, frame, transactional_id, self.producer_ids.timeout_ms(transactional_id))

    def _note_group_member(self, client: ClientConnection, header: RequestHeader, body: memoryview) -> None:
        found = _group_of(header, body)
        if found is None:
            return
        group, member_id, member_epoch = found
        key, now = client_key(client, header), time.monotonic()
        if not self.holding:  # after the flip, members are new ones on the target
            self.memberships.seen(key, group, member_id, now)
        if now - self._pruned_at > self.memberships.stale_after_s:
            self.memberships.prune(now)
            self._pruned_at = now
        fence = header.api_key == 68 and self.context.switch_epoch > 0 and brings_foreign_epoch(member_epoch)
        rejoining = self.holding and header.api_key in (14, 68)
        if fence or rejoining:
            member = (key, member_id) if rejoining else None
            self._watch[(id(client), header.correlation_id)] = _Watched(header.api_key, group, fence, member)

    # -- response path ---------------------------------------------------------------------------------

    def observe_answer(self, client: ClientConnection, entry: Pending) -> None:
        if entry.api_key == 8 and self.context.switch_epoch > 0 and entry.api_version >= FIRST_MEMBER_EPOCH_COMMIT:
            self._commit_answer(entry)
            return
        reinitialised = self._reinitialising.pop((id(client), entry.correlation_id), None)
        if reinitialised is not None:
            self._reinitialise_answer(entry, reinitialised)
            return
        watched = self._watch.pop((id(client), entry.correlation_id), None)
        if watched is None or entry.answer is None:
            return
        key, name, fence, member = watched.api_key, watched.name, watched.fence, watched.member
        framed = b"".join(entry.answer)
        try:
            response = _decode_response(key, entry.api_version, framed)
        except ProtocolError as exc:
            log.warning("switch interceptor could not read a %d response: %s", key, exc)
            return
        if fence and fence_unknown_group(response):
            entry.answer = _reframed(key, entry.api_version, framed, response)
            self.context.metrics.rewrite(key).inc()
            log.info("group %s: GROUP_ID_NOT_FOUND to a member with an epoch from before the switch "
                     "answered as FENCED_MEMBER_EPOCH (it rejoins at epoch 0)", name)
        if key in TXN_REQUESTS:
            self._track_transaction(key, name, response)
        elif member is not None and name is not None:
            self._track_rejoin(key, name, member, response)

    def _commit_answer(self, entry: Pending) -> None:
        """OffsetCommit after a switch: GROUP_ID_NOT_FOUND becomes UNKNOWN_MEMBER_ID (see member_epochs)."""
        if entry.answer is None:
            return
        framed = b"".join(entry.answer)
        if not may_refuse_unknown_group(framed):
            return
        try:
            response = _decode_response(8, entry.api_version, framed)
        except ProtocolError as exc:
            log.warning("switch interceptor could not read an OffsetCommit response: %s", exc)
            return
        if unknown_member_for_unknown_group(response):
            entry.answer = _reframed(8, entry.api_version, framed, response)
            self.context.metrics.rewrite(8).inc()

    def _reinitialise_answer(self, entry: Pending, transactional_id: str) -> None:
        """The InitProducerId answer to a stale EndTxn abort, turned into that EndTxn's answer."""
        if entry.answer is None:
            return
        result = end_txn_answer(b"".join(entry.answer), entry.api_version)
        entry.answer = result.answer
        if result.error_code != 0:
            log.info("transactional id %s: re-initialising on %s answered error %d", transactional_id,
                     self.context.active, result.error_code)
            return
        self.producer_ids.issued(transactional_id, self.context.active)
        self.transactions.ended(transactional_id)
        log.info("transactional id %s: aborted with a producer id from before the switch; carries on with "
                 "producer id %d from %s", transactional_id, result.producer_id, self.context.active)

    def _track_transaction(self, key: int, transactional_id: str | None, response: Any) -> None:
        if transactional_id is None:
            return
        opened = {24: _all_partitions_ok, 25: _no_error, 28: _all_offsets_ok}.get(key)
        if opened is not None and opened(response):
            self.transactions.started(transactional_id, self.producer_ids.timeout_ms(transactional_id))
        elif key in (22, 26) and response.ErrorCode == 0:
            self.transactions.ended(transactional_id)
            if key == 22:
                self.producer_ids.issued(transactional_id, self.context.active)

    def _track_rejoin(self, key: int, group: str, member: tuple[ClientKey, str], response: Any) -> None:
        joined = response.ErrorCode == 0 and (key == 14 or (response.MemberEpoch > 0
                                                            and response.get("Assignment") is not None))
        client, member_id = member
        if key == 68 and not member_id:
            member_id = response.get("MemberId") or ""
        if not joined or not self.memberships.rejoined(client, group, member_id):
            return
        self.context.metrics.held_fetches.set(len(self.memberships.held_keys()))
        name = f"{client[0]} {client[1]} {member_id}"
        log.info("consumer %s rejoined group %s on %s", name, group, self.context.active)
        if self.on_rejoined is not None:
            self.on_rejoined(name, group)


def _frame(header: RequestHeader, body: bytes) -> bytes:
    flexible_header = b"\x00" if _response_header_flexible(header) else b""
    payload = _INT32.pack(header.correlation_id) + flexible_header + body
    return _INT32.pack(len(payload)) + payload


def _response_header_flexible(header: RequestHeader) -> bool:
    from protocol.api_keys import response_header_version

    return response_header_version(header.api_key, header.api_version) == 1


def _produce_partitions(request: Any) -> tuple[list[tuple[str, int]], int]:
    partitions = []
    producer_id = -1
    for topic in request.TopicData:
        name = topic.get("Name") or str(topic.get("TopicId"))
        for p in topic.PartitionData:
            partitions.append((name, p.Index))
            if producer_id == -1 and p.Records:
                for _offset, batch in iter_batches(p.Records):
                    producer_id = batch.producer_id
                    break
    return partitions, producer_id


def produce_transactional_id(version: int, body: memoryview) -> str | None:
    """The TransactionalId that leads every Produce body from v3, read without decoding the rest.

    Transaction version 2 producers (Java 4.x against 4.x brokers) send no AddPartitionsToTxn: a
    transaction opens with its first Produce. Unless that Produce is seen before the fence, the
    transaction looks closed, its later batches are refused, and it stays open on the source until
    transaction.timeout.ms, holding the catch-up's transactions gate shut. This runs for every
    Produce while unfenced, hence a peek: null (the common case) costs one or two byte reads.
    """
    if version < 3 or not body or body[0] == (0 if version >= 9 else 0xFF):
        return None  # null: compact length 0 from v9, int16 -1 before
    try:
        if version >= 9:
            length, start = read_uvarint(body, 0)
            length -= 1
        else:
            length, start = _INT16.unpack_from(body)[0], 2
    except (ProtocolError, struct.error):
        return None
    if length < 0 or start + length > len(body):
        return None
    return str(body[start:start + length], "utf-8", "replace")


def client_key(client: ClientConnection, header: RequestHeader) -> ClientKey:
    """(peer host, client.id): what a consumer's coordinator and fetch connections have in common."""
    return (client.peer.rpartition(":")[0] or client.peer, header.client_id or "")


def _group_of(header: RequestHeader, body: memoryview) -> tuple[str, str, int] | None:
    """(group id, member id, member epoch or -1) of a JoinGroup, Heartbeat, SyncGroup or ConsumerGroupHeartbeat."""
    spec = {11: join_group.REQUEST, 12: heartbeat.REQUEST, 14: sync_group.REQUEST,
            68: consumer_group_heartbeat.REQUEST}.get(header.api_key)
    if spec is None:
        return None
    try:
        request = schema.decode(spec, header.api_version, body)
    except ProtocolError:
        return None
    return str(request.GroupId), str(request.get("MemberId") or ""), int(request.get("MemberEpoch", -1))


def _response_spec(key: int) -> schema.MessageSpec:
    specs = {8: offset_commit.RESPONSE, 14: sync_group.RESPONSE, 68: consumer_group_heartbeat.RESPONSE}
    return specs.get(key) or _TXN_SPECS[key][1]


def _decode_response(key: int, version: int, framed: bytes) -> Any:
    frame = memoryview(framed)[4:]
    offset = response_header_length(key, version, frame)
    return schema.decode(_response_spec(key), version, frame[offset:])


def _reframed(key: int, version: int, framed: bytes, response: Any) -> list[bytes | memoryview]:
    """`framed` (size, header, body) with the body replaced by `response`, encoded."""
    header_end = 4 + response_header_length(key, version, memoryview(framed)[4:])
    payload = framed[4:header_end] + schema.encode(_response_spec(key), version, response)
    return [_INT32.pack(len(payload)), payload]


def _all_partitions_ok(response: Any) -> bool:
    results = response.get("ResultsByTopicV3AndBelow") or []
    return all(p.PartitionErrorCode == 0 for t in results for p in t.ResultsByPartition)


def _no_error(response: Any) -> bool:
    return bool(response.ErrorCode == 0)


def _all_offsets_ok(response: Any) -> bool:
    return all(p.ErrorCode == 0 for t in response.Topics for p in t.Partitions)


def _refusal(key: int, version: int, request: Any, code: int) -> Any:
    """The answer to a transaction request refused with `code` (every partition, where it has them)."""
    if key == 28:
        return txn_offset_commit.failed_response(request, version, code)
    if key == 24:
        return schema.new(add_partitions_to_txn.RESPONSE, version, ResultsByTopicV3AndBelow=[
            {"Name": t.Name, "ResultsByPartition": [{"PartitionIndex": p, "PartitionErrorCode": code}
                                                    for p in t.Partitions]}
            for t in request.V3AndBelowTopics])
    return schema.new(_TXN_SPECS[key][1], version, ErrorCode=code)
