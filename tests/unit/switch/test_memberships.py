"""Fetch holds tell consumer instances apart by host, client.id and group membership, not client.id alone."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

from protocol import schema
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import fetch, sync_group
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from proxy.switch.memberships import Memberships

SYNC_VERSION, FETCH_VERSION = 3, 12


def test_two_members_of_one_key_in_one_group_both_have_to_rejoin() -> None:
    members = Memberships()
    members.seen(("h", "rdkafka"), "g", "m1", now=0)
    members.seen(("h", "rdkafka"), "g", "m2", now=1)
    members.hold(now=2)
    assert members.rejoined(("h", "rdkafka"), "g", "n1")
    assert members.held(("h", "rdkafka"))
    assert not members.rejoined(("h", "rdkafka"), "g", "n1")  # the same member twice counts once
    assert members.rejoined(("h", "rdkafka"), "g", "n2")
    assert not members.held(("h", "rdkafka"))


def test_members_gone_for_longer_than_the_stale_limit_are_neither_awaited_nor_kept() -> None:
    members = Memberships(stale_after_s=60)
    members.seen(("h", "app"), "g", "old", now=0)
    members.seen(("h", "app"), "g", "live", now=100)
    members.seen(("h", "gone"), "g2", "x", now=0)
    members.hold(now=110)
    assert members.held_keys() == ["h app"] and members.size() == 1
    assert members.rejoined(("h", "app"), "g", "n") and members.held_keys() == []


class Client:
    def __init__(self, peer: str) -> None:
        self.peer = peer


def interceptor() -> SwitchInterceptor:
    transactions = TransactionFence()
    context: Any = SimpleNamespace(metrics=Metrics(), active="B")
    return SwitchInterceptor(context, ProduceFence(transactions), transactions)


def sync(correlation_id: int, group: str, member: str) -> bytes:
    body = schema.encode(sync_group.REQUEST, SYNC_VERSION, schema.new(
        sync_group.REQUEST, SYNC_VERSION, GroupId=group, GenerationId=1, MemberId=member, Assignments=[]))
    return encode_request_header(14, SYNC_VERSION, correlation_id, "rdkafka") + body


def sync_ok(correlation_id: int) -> Any:
    body = schema.encode(sync_group.RESPONSE, SYNC_VERSION, schema.new(
        sync_group.RESPONSE, SYNC_VERSION, ErrorCode=0, Assignment=b""))
    payload = struct.pack(">i", correlation_id) + body
    return SimpleNamespace(api_key=14, correlation_id=correlation_id, api_version=SYNC_VERSION,
                           answer=[struct.pack(">i", len(payload)) + payload])


def fetch_frame() -> bytes:
    body = schema.encode(fetch.REQUEST, FETCH_VERSION, schema.new(fetch.REQUEST, FETCH_VERSION, Topics=[
        {"Topic": "orders", "Partitions": [{"Partition": 0, "FetchOffset": 5}]}]))
    return encode_request_header(1, FETCH_VERSION, 99, "rdkafka") + body


def send(switch: SwitchInterceptor, client: Client, frame: bytes) -> list[bytes] | None:
    return switch.intercept(client, peek_request_header(frame), memoryview(frame))  # type: ignore[arg-type]


def test_one_default_named_consumers_rejoin_does_not_release_another_groups_consumer() -> None:
    switch = interceptor()
    coordinator, leader = Client("10.0.0.7:50001"), Client("10.0.0.7:50002")  # one host, two consumers
    send(switch, coordinator, sync(1, "billing", "m-billing"))
    send(switch, coordinator, sync(2, "audit", "m-audit"))
    switch.hold_fetches()
    assert send(switch, leader, fetch_frame()) is not None  # held
    send(switch, coordinator, sync(3, "billing", "n-billing"))
    switch.observe_answer(coordinator, sync_ok(3))  # type: ignore[arg-type]
    assert send(switch, leader, fetch_frame()) is not None  # audit's consumer has not rejoined yet
    send(switch, coordinator, sync(4, "audit", "n-audit"))
    switch.observe_answer(coordinator, sync_ok(4))  # type: ignore[arg-type]
    assert send(switch, leader, fetch_frame()) is None  # both groups rejoined: fetches go upstream


def test_a_consumer_on_another_host_is_not_held_for_this_ones_groups() -> None:
    switch = interceptor()
    send(switch, Client("10.0.0.7:50001"), sync(1, "billing", "m"))
    switch.hold_fetches()
    assert send(switch, Client("10.0.0.8:41000"), fetch_frame()) is None


def test_a_closed_connection_leaves_nothing_watched_behind() -> None:
    switch = interceptor()
    coordinator = Client("10.0.0.7:50001")
    send(switch, coordinator, sync(1, "billing", "m"))
    switch.hold_fetches()
    send(switch, coordinator, sync(2, "billing", "n"))
    switch.forget(coordinator)  # type: ignore[arg-type]
    assert switch._watch == {}
