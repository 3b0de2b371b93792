"""A closed connection takes everything the interceptor kept for it along (issue 9 item 4).

The interceptor keeps per-request records keyed by (connection, correlation id) until the answer
arrives; a connection that closes with requests in flight never gets those answers, so `forget`
(called from `ProxyContext.unregister`) must drop them, in every map, and only that connection's.
tests/integration/test_connection_bookkeeping.py checks the same with 10,000 real sockets.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import consumer_group_heartbeat, end_txn, init_producer_id, produce, sync_group
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence

EMPTY = {"watched": 0, "reinitialising": 0, "refused_clients": 0, "held_producers": 0}


class Client:
    """What the interceptor and `ProxyContext.unregister` read of a client connection."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def outstanding(self, api_keys: frozenset[int]) -> int:
        return 0


def frame(api_key: int, version: int, correlation_id: int, spec: schema.MessageSpec, **fields: Any) -> bytes:
    body = schema.encode(spec, version, schema.new(spec, version, **fields))
    return encode_request_header(api_key, version, correlation_id, "app") + body


def send(switch: SwitchInterceptor, client: Client, request: bytes) -> list[bytes] | None:
    return switch.intercept(client, peek_request_header(request), memoryview(request))  # type: ignore[arg-type]


def sync(correlation_id: int, member: str) -> bytes:
    return frame(14, 3, correlation_id, sync_group.REQUEST, GroupId="g", GenerationId=1, MemberId=member,
                 Assignments=[])


def in_flight(switch: SwitchInterceptor, client: Client, n: int) -> None:
    """One request of each kind the interceptor keeps a record for, none answered (switch flipped, fenced)."""
    send(switch, client, sync(10, f"m-{n}"))  # a held consumer's rejoin
    send(switch, client, frame(68, 1, 11, consumer_group_heartbeat.REQUEST, GroupId="g", MemberId=f"k-{n}",
                               MemberEpoch=12, RebalanceTimeoutMs=30000))  # an epoch from the source
    send(switch, client, frame(22, 5, 12, init_producer_id.REQUEST, TransactionalId=f"new-{n}",
                               TransactionTimeoutMs=10_000, ProducerId=-1, ProducerEpoch=-1))
    send(switch, client, frame(26, 5, 13, end_txn.REQUEST, TransactionalId=f"tx-{n}", ProducerId=7,
                               ProducerEpoch=3, Committed=False))  # stale abort: re-initialised
    assert send(switch, client, frame(0, 9, 14, produce.REQUEST, Acks=-1, TimeoutMs=30000, TopicData=[
        {"Name": "orders", "PartitionData": [{"Index": 0, "Records": None}]}])) is not None  # refused


def switched(context: Any) -> tuple[SwitchInterceptor, list[Client]]:
    """Two consumers' connections seen on A, then the flip to B with fetches held and produce fenced."""
    transactions = TransactionFence()
    switch = SwitchInterceptor(context, ProduceFence(transactions), transactions)
    clients = [Client("10.0.0.7:50001"), Client("10.0.0.8:50002")]
    for n, client in enumerate(clients):
        send(switch, client, sync(1, f"m-{n}"))
        switch.producer_ids.issued(f"tx-{n}", "A")
    context.active, context.switch_epoch = "B", 1
    switch.hold_fetches()
    switch.produce_fence.fence(hold=True)  # a switch holds fenced produce
    for n, client in enumerate(clients):
        in_flight(switch, client, n)
    return switch, clients


def per_connection_maps(switch: SwitchInterceptor) -> dict[str, Any]:
    """Every dict or set the interceptor holds directly, so that a map added later is covered too."""
    return {name: value for name, value in vars(switch).items() if isinstance(value, (dict, set))}


def test_forget_drops_every_entry_of_the_closed_connection_and_only_its_own() -> None:
    switch, (first, second) = switched(SimpleNamespace(metrics=Metrics(), active="A", switch_epoch=0))
    assert switch.connection_entries() == {"watched": 6, "reinitialising": 2, "refused_clients": 2,
                                           "held_producers": 2}
    assert all(record.member is not None for record in switch._watch.values() if record.api_key in (14, 68))
    switch.forget(first)  # type: ignore[arg-type]
    assert switch.connection_entries() == {"watched": 3, "reinitialising": 1, "refused_clients": 1, "held_producers": 1}
    assert {owner for owner, _ in [*switch._watch, *switch._reinitialising]} == {id(second)}
    switch.forget(second)  # type: ignore[arg-type]
    assert switch.connection_entries() == EMPTY
    assert {name: value for name, value in per_connection_maps(switch).items() if value} == {}


def test_closing_every_connection_through_the_context_returns_the_bookkeeping_to_its_start() -> None:
    context = ProxyContext(proxy_config({"A": "127.0.0.1:9092", "B": "127.0.0.1:9093"}, "A"),
                           Metrics(clusters=["A", "B"]))
    switch, clients = switched(context)
    context.interceptors.append(switch)
    assert switch.connection_entries() != EMPTY
    for client in clients:
        context.unregister(client)  # type: ignore[arg-type]
    assert switch.connection_entries() == EMPTY
