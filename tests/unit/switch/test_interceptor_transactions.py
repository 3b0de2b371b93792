"""The switch interceptor and transactions that open with their first Produce (transaction version 2).

Java 4.x producers against 4.x brokers send no AddPartitionsToTxn: the first transactional Produce
opens the transaction. Found on real brokers (tests/integration/test_switch.py, the Java copier):
a transaction opened that way before the fence had its next batch refused, stayed open on the source
until its timeout and aborted every planned switch at the transactions gate.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from protocol import schema
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import produce
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor, produce_transactional_id
from proxy.switch.machine.fencing import ProduceFence, TransactionFence

VERSIONS = range(3, 14)
TOPIC_ID = uuid.UUID("5d2b6b0e-58c3-4d53-9b8e-52b9a6dd3f39")


def produce_frame(version: int, transactional_id: str | None, partition: int = 0) -> bytes:
    topic: dict[str, Any] = {"PartitionData": [{"Index": partition, "Records": None}]}
    topic.update({"TopicId": TOPIC_ID} if version >= 13 else {"Name": "orders"})
    body = schema.encode(produce.REQUEST, version, schema.new(
        produce.REQUEST, version, TransactionalId=transactional_id, Acks=-1, TimeoutMs=30000, TopicData=[topic]))
    return encode_request_header(0, version, 7, "app") + body


def new_interceptor() -> tuple[SwitchInterceptor, TransactionFence, ProduceFence]:
    transactions = TransactionFence()
    fence = ProduceFence(transactions)
    context: Any = SimpleNamespace(metrics=Metrics(), active="A", switch_epoch=0)
    return SwitchInterceptor(context, fence, transactions), transactions, fence


def send(interceptor: SwitchInterceptor, frame: bytes) -> list[bytes] | None:
    return interceptor.intercept(object(), peek_request_header(frame), memoryview(frame))  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("transactional_id", [None, "", "tx-1", "t" * 200])
def test_the_transactional_id_is_peeked_from_every_produce_version(version: int, transactional_id: str | None
                                                                   ) -> None:
    frame = produce_frame(version, transactional_id)
    body = memoryview(frame)[peek_request_header(frame).header_length:]
    assert produce_transactional_id(version, body) == transactional_id


def test_a_transaction_opened_by_produce_before_the_fence_may_finish_behind_it() -> None:
    interceptor, transactions, fence = new_interceptor()
    assert send(interceptor, produce_frame(11, "tx-1")) is None
    transactions.fence()
    fence.fence()
    assert send(interceptor, produce_frame(11, "tx-1", partition=1)) is None  # forwarded: the transaction can end


def test_an_idempotent_produce_opens_nothing_and_is_refused_once_fenced() -> None:
    interceptor, transactions, fence = new_interceptor()
    assert send(interceptor, produce_frame(11, None)) is None
    assert not transactions.is_open(None)
    transactions.fence()
    fence.fence()
    refused = send(interceptor, produce_frame(11, None))
    assert refused is not None and len(refused) == 1


def test_a_transaction_that_only_begins_after_the_fence_is_refused() -> None:
    interceptor, transactions, fence = new_interceptor()
    transactions.fence()
    fence.fence()
    assert send(interceptor, produce_frame(11, "tx-late")) is not None
    assert not transactions.is_open("tx-late")
