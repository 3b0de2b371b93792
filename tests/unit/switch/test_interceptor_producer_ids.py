"""The interceptor moves a transaction version 2 producer from the source's producer id to the target's.

Found on Kafka 4.4 (tests/integration/test_switch.py, TransactionalMessageCopier): TxnOffsetCommit
opened a transaction on A behind the fence, and after the flip the producer died on B's
INVALID_PRODUCER_ID_MAPPING. Here: the fence refuses a TxnOffsetCommit that would open a
transaction; after the flip the stale producer's transaction turns abortable and its abort comes
back with a producer id from B.
"""

from __future__ import annotations

import struct
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import end_txn, init_producer_id, produce, txn_offset_commit
from proxy.dataplane.connection import (
    ClientDataReceived,
    Connection,
    SendClient,
    SendUpstream,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import COORDINATOR_LOAD_IN_PROGRESS, ProduceFence, TransactionFence
from proxy.switch.machine.producer_ids import TRANSACTION_ABORTABLE
from proxy.switch.producer_reinit import COORDINATOR_NOT_AVAILABLE, REINITIALISE_VERSION

CONCURRENT_TRANSACTIONS = 51
TOPIC_ID = uuid.UUID("5d2b6b0e-58c3-4d53-9b8e-52b9a6dd3f39")
CLIENT = object()


def new_switch() -> tuple[SwitchInterceptor, Any]:
    transactions = TransactionFence()
    context: Any = SimpleNamespace(metrics=Metrics(), active="A", switch_epoch=0)
    return SwitchInterceptor(context, ProduceFence(transactions), transactions), context


def request(api_key: int, version: int, correlation_id: int, **fields: Any) -> bytes:
    spec = {22: init_producer_id.REQUEST, 26: end_txn.REQUEST, 28: txn_offset_commit.REQUEST,
            0: produce.REQUEST}[api_key]
    return encode_request_header(api_key, version, correlation_id, "copier") + schema.encode(
        spec, version, schema.new(spec, version, **fields))


def response(api_key: int, version: int, correlation_id: int, spec: schema.MessageSpec, **fields: Any) -> Any:
    payload = struct.pack(">i", correlation_id) + b"\x00" + schema.encode(spec, version, schema.new(
        spec, version, **fields))  # flexible response header: tagged fields
    return SimpleNamespace(api_key=api_key, api_version=version, correlation_id=correlation_id,
                           answer=[struct.pack(">i", len(payload)), payload])


def send(switch: SwitchInterceptor, frame: bytes) -> list[bytes] | None:
    return switch.intercept(CLIENT, peek_request_header(frame), memoryview(frame))  # type: ignore[arg-type]


def decoded(answer: list[bytes] | list[Any], spec: schema.MessageSpec, version: int) -> Any:
    framed = b"".join(answer)
    assert struct.unpack_from(">i", framed)[0] == len(framed) - 4
    return schema.decode(spec, version, memoryview(framed)[9:])


def offsets(version: int, correlation_id: int) -> bytes:
    topic: dict[str, Any] = {"TopicId": TOPIC_ID} if version >= 6 else {"Name": "input"}
    topic["Partitions"] = [{"PartitionIndex": 0, "CommittedOffset": 10, "CommittedMetadata": None}]
    return request(28, version, correlation_id, TransactionalId="tx", GroupId="g", ProducerId=7, ProducerEpoch=3,
                   Topics=[topic])


def produce_v12(correlation_id: int) -> bytes:
    topic = {"Name": "output", "PartitionData": [{"Index": 0, "Records": None}, {"Index": 1, "Records": None}]}
    return request(0, 12, correlation_id, TransactionalId="tx", Acks=-1, TimeoutMs=30000, TopicData=[topic])


def initialised_on_a_then_switched() -> tuple[SwitchInterceptor, Any]:
    """InitProducerId for "tx" answered by A, then the flip to B."""
    switch, context = new_switch()
    assert send(switch, request(22, 5, 1, TransactionalId="tx", TransactionTimeoutMs=10_000)) is None
    switch.observe_answer(CLIENT, response(22, 5, 1, init_producer_id.RESPONSE, ProducerId=7,  # type: ignore[arg-type]
                                           ProducerEpoch=0))
    context.active, context.switch_epoch = "B", 1
    return switch, context


@pytest.mark.parametrize("version", [5, 6])
def test_the_fence_refuses_a_txn_offset_commit_that_would_open_a_transaction(version: int) -> None:
    switch, _ = new_switch()
    switch.transactions.fence()
    answer = send(switch, offsets(version, 9))
    assert answer is not None
    codes = [p.ErrorCode for t in decoded(answer, txn_offset_commit.RESPONSE, version).Topics for p in t.Partitions]
    assert codes == [COORDINATOR_LOAD_IN_PROGRESS]  # retried: nothing opens on the source


def test_a_txn_offset_commit_answered_before_the_fence_opens_the_transaction() -> None:
    switch, _ = new_switch()
    assert send(switch, offsets(5, 9)) is None
    topic = {"Name": "input", "Partitions": [{"PartitionIndex": 0, "ErrorCode": 0}]}
    switch.observe_answer(CLIENT, response(28, 5, 9, txn_offset_commit.RESPONSE, Topics=[topic]))  # type: ignore[arg-type]
    switch.transactions.fence()
    assert switch.transactions.is_open("tx") and send(switch, offsets(5, 10)) is None  # it may finish


def test_after_the_switch_the_stale_producers_produce_and_offsets_become_abortable() -> None:
    switch, _ = initialised_on_a_then_switched()
    produced = send(switch, produce_v12(2))
    assert produced is not None
    answer = decoded(produced, produce.RESPONSE, 12)
    assert [p.ErrorCode for t in answer.Responses for p in t.PartitionResponses] == [TRANSACTION_ABORTABLE] * 2
    committed = send(switch, offsets(5, 3))
    assert committed is not None
    codes = [p.ErrorCode for t in decoded(committed, txn_offset_commit.RESPONSE, 5).Topics for p in t.Partitions]
    assert codes == [TRANSACTION_ABORTABLE]
    commit = send(switch, request(26, 5, 4, TransactionalId="tx", ProducerId=7, ProducerEpoch=3, Committed=True))
    assert commit is not None and decoded(commit, end_txn.RESPONSE, 5).ErrorCode == TRANSACTION_ABORTABLE


def abort_through(switch: SwitchInterceptor, correlation_id: int, **init_answer: Any) -> Any:
    """The stale EndTxn abort: sent on as InitProducerId, answered, and what the client gets back."""
    frame = request(26, 5, correlation_id, TransactionalId="tx", ProducerId=7, ProducerEpoch=3, Committed=False)
    header = peek_request_header(frame)
    assert send(switch, frame) is None
    sent = switch.rewrite_request(header, memoryview(frame))
    assert sent is not None
    sent_header = peek_request_header(sent)
    assert (sent_header.api_key, sent_header.api_version) == (22, REINITIALISE_VERSION)
    assert (sent_header.correlation_id, sent_header.client_id) == (correlation_id, "copier")
    init = schema.decode(init_producer_id.REQUEST, REINITIALISE_VERSION, memoryview(sent)[sent_header.header_length:])
    assert (init.TransactionalId, init.TransactionTimeoutMs, init.ProducerId, init.ProducerEpoch) == ("tx", 10_000,
                                                                                                      -1, -1)
    entry = response(26, 5, correlation_id, init_producer_id.RESPONSE, **init_answer)
    entry.answer = response(22, REINITIALISE_VERSION, correlation_id, init_producer_id.RESPONSE,
                            **init_answer).answer
    switch.observe_answer(CLIENT, entry)  # type: ignore[arg-type]
    return decoded(entry.answer, end_txn.RESPONSE, 5)


def test_the_stale_producers_abort_hands_it_a_producer_id_from_the_target() -> None:
    switch, _ = initialised_on_a_then_switched()
    answer = abort_through(switch, 5, ErrorCode=0, ProducerId=4000, ProducerEpoch=0)
    assert (answer.ErrorCode, answer.ProducerId, answer.ProducerEpoch) == (0, 4000, 0)
    assert send(switch, produce_v12(6)) is None  # its next transaction goes to B
    assert send(switch, offsets(5, 7)) is None


def test_a_retriable_answer_to_the_re_initialisation_stays_retriable_and_the_retry_is_sent_again() -> None:
    switch, _ = initialised_on_a_then_switched()
    answer = abort_through(switch, 5, ErrorCode=CONCURRENT_TRANSACTIONS, ProducerId=-1, ProducerEpoch=-1)
    assert (answer.ErrorCode, answer.ProducerId) == (CONCURRENT_TRANSACTIONS, -1)
    assert abort_through(switch, 6, ErrorCode=0, ProducerId=4000, ProducerEpoch=0).ErrorCode == 0


def test_transaction_version_1_requests_and_active_producers_pass() -> None:
    switch, context = initialised_on_a_then_switched()
    abort_v4 = request(26, 4, 8, TransactionalId="tx", ProducerId=7, ProducerEpoch=3, Committed=False)
    assert send(switch, abort_v4) is None
    assert switch.rewrite_request(peek_request_header(abort_v4), memoryview(abort_v4)) is None
    context.active = "A"  # failed back: A's producer id is current again
    assert send(switch, produce_v12(9)) is None


def test_through_the_connection_core_the_abort_leaves_as_init_producer_id_and_returns_as_end_txn() -> None:
    context = ProxyContext(proxy_config({"A": "127.0.0.1:1", "B": "127.0.0.1:2"}, "B"), Metrics(clusters=["A", "B"]))
    transactions = TransactionFence()
    switch = SwitchInterceptor(context, ProduceFence(transactions), transactions)
    context.interceptors.append(switch)
    switch.producer_ids.issued("tx", "A")
    core = Connection(context, SimpleNamespace(peer="10.0.0.9:50000", virtual_node=None), max_frame_bytes=1 << 20,
                      hold_limit=1000)
    core.handle(UpstreamConnected(context.virtual.mapper("B")))
    abort = request(26, 5, 11, TransactionalId="tx", ProducerId=7, ProducerEpoch=3, Committed=False)
    [sent] = [c for c in core.handle(ClientDataReceived(struct.pack(">i", len(abort)) + abort))
              if isinstance(c, SendUpstream)]
    frame = memoryview(b"".join(sent.parts))[4:]
    assert (peek_request_header(frame).api_key, peek_request_header(frame).correlation_id) == (22, 11)
    init = response(22, REINITIALISE_VERSION, 11, init_producer_id.RESPONSE, ProducerId=4000, ProducerEpoch=0)
    [back] = [c for c in core.handle(UpstreamDataReceived(b"".join(init.answer))) if isinstance(c, SendClient)]
    answer = decoded(list(back.parts), end_txn.RESPONSE, 5)
    assert (answer.ErrorCode, answer.ProducerId, answer.ProducerEpoch) == (0, 4000, 0)
    assert switch.producer_ids.issued_by("tx") == "B"


def test_an_unreadable_answer_to_the_re_initialisation_is_retried_never_abortable() -> None:
    switch, _ = initialised_on_a_then_switched()
    frame = request(26, 5, 12, TransactionalId="tx", ProducerId=7, ProducerEpoch=3, Committed=False)
    assert send(switch, frame) is None
    payload = struct.pack(">i", 12) + b"\x00" + b"\x01"  # a body cut short
    entry = SimpleNamespace(api_key=26, api_version=5, correlation_id=12,
                            answer=[struct.pack(">i", len(payload)), payload])
    switch.observe_answer(CLIENT, entry)  # type: ignore[arg-type]
    answer = decoded(entry.answer, end_txn.RESPONSE, 5)
    assert (answer.ErrorCode, answer.ProducerId) == (COORDINATOR_NOT_AVAILABLE, -1)
    assert switch.producer_ids.issued_by("tx") == "A"  # still stale: the resent EndTxn is sent on again
