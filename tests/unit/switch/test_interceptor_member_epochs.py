"""KIP-848 members after a switch: the target's GROUP_ID_NOT_FOUND becomes the fence that makes them rejoin.

Found on Kafka 4.4 (tests/integration/test_switch.py, group.protocol=consumer with Java and
librdkafka): the member reconnects with its member id and epoch from A; B holds the group only as
the classic offsets-only group the translated commits created and answers GROUP_ID_NOT_FOUND
("Group ... is not a consumer group"), fatal to both clients; the switch then waited out its window.
"""

from __future__ import annotations

import struct
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from protocol import schema
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import consumer_group_heartbeat as cgh
from protocol.messages import offset_commit
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from proxy.switch.member_epochs import FENCED_MEMBER_EPOCH, GROUP_ID_NOT_FOUND

VERSIONS = (0, 1)
UNKNOWN_MEMBER_ID = 25
COMMIT_VERSIONS = (9, 10)
TOPIC_ID = uuid.UUID("5d2b6b0e-58c3-4d53-9b8e-52b9a6dd3f39")


class Client:
    def __init__(self, peer: str = "10.0.0.7:50001") -> None:
        self.peer = peer


def interceptor(switch_epoch: int = 1) -> SwitchInterceptor:
    transactions = TransactionFence()
    context: Any = SimpleNamespace(metrics=Metrics(), active="B", switch_epoch=switch_epoch)
    return SwitchInterceptor(context, ProduceFence(transactions), transactions)


def heartbeat(version: int, correlation_id: int, epoch: int, member: str = "m-1", group: str = "g") -> bytes:
    body = schema.encode(cgh.REQUEST, version, schema.new(
        cgh.REQUEST, version, GroupId=group, MemberId=member, MemberEpoch=epoch, RebalanceTimeoutMs=30000,
        SubscribedTopicNames=["orders"] if epoch == 0 else None))
    return encode_request_header(68, version, correlation_id, "wl-c") + body


def answer(version: int, correlation_id: int, error: int, epoch: int = 0, assigned: bool = False,
           message: str | None = None) -> Any:
    assignment = {"TopicPartitions": [{"TopicId": TOPIC_ID, "Partitions": [0, 1]}]} if assigned else None
    body = schema.encode(cgh.RESPONSE, version, schema.new(
        cgh.RESPONSE, version, ErrorCode=error, ErrorMessage=message, MemberId="m-1" if not error else None,
        MemberEpoch=epoch, HeartbeatIntervalMs=5000, Assignment=assignment))
    payload = struct.pack(">i", correlation_id) + b"\x00" + body  # response header v1: tagged fields
    return SimpleNamespace(api_key=68, correlation_id=correlation_id, api_version=version,
                           answer=[struct.pack(">i", len(payload)), payload])


def exchange(switch: SwitchInterceptor, client: Client, frame: bytes, response: Any) -> Any:
    """The request through the interceptor, the upstream's answer back; what the client receives."""
    assert switch.intercept(client, peek_request_header(frame), memoryview(frame)) is None  # type: ignore[arg-type]
    switch.observe_answer(client, response)  # type: ignore[arg-type]
    framed = b"".join(response.answer)
    assert struct.unpack_from(">i", framed)[0] == len(framed) - 4
    assert struct.unpack_from(">i", framed, 4)[0] == response.correlation_id
    return schema.decode(cgh.RESPONSE, response.api_version, memoryview(framed)[9:])


@pytest.mark.parametrize("version", VERSIONS)
def test_group_id_not_found_to_a_member_with_an_epoch_from_before_the_switch_fences_it(version: int) -> None:
    received = exchange(interceptor(), Client(), heartbeat(version, 7, epoch=12),
                        answer(version, 7, GROUP_ID_NOT_FOUND, message="Group g is not a consumer group"))
    assert received.ErrorCode == FENCED_MEMBER_EPOCH
    assert "Group g is not a consumer group" in received.ErrorMessage
    assert (received.MemberEpoch, received.HeartbeatIntervalMs, received.Assignment) == (0, 5000, None)


@pytest.mark.parametrize(("switch_epoch", "member_epoch", "error"), [
    (0, 12, GROUP_ID_NOT_FOUND),  # before any switch the proxy stays transparent
    (1, 0, GROUP_ID_NOT_FOUND),  # a join: the coordinator's answer is the truth
    (1, -1, GROUP_ID_NOT_FOUND),  # a leave: librdkafka expects GROUP_ID_NOT_FOUND then
    (1, 12, UNKNOWN_MEMBER_ID),  # already an error that makes the member rejoin
    (1, 12, FENCED_MEMBER_EPOCH),
])
def test_other_answers_pass_unchanged(switch_epoch: int, member_epoch: int, error: int) -> None:
    sent = answer(1, 8, error)
    before = b"".join(sent.answer)
    exchange(interceptor(switch_epoch), Client(), heartbeat(1, 8, epoch=member_epoch), sent)
    assert b"".join(sent.answer) == before


def test_the_fenced_member_rejoining_at_epoch_0_releases_its_fetches_and_reports_the_rejoin() -> None:
    switch, coordinator = interceptor(switch_epoch=0), Client()
    rejoined: list[tuple[str, str]] = []
    switch.on_rejoined = lambda name, group: rejoined.append((name, group))
    exchange(switch, coordinator, heartbeat(1, 1, epoch=3), answer(1, 1, 0, epoch=3))  # on A
    switch.context.switch_epoch = 1  # the flip
    switch.hold_fetches()
    assert switch.held_clients == ["10.0.0.7 wl-c"]
    fenced = exchange(switch, coordinator, heartbeat(1, 2, epoch=3), answer(1, 2, GROUP_ID_NOT_FOUND))
    assert fenced.ErrorCode == FENCED_MEMBER_EPOCH and switch.held_clients == ["10.0.0.7 wl-c"]
    exchange(switch, coordinator, heartbeat(1, 3, epoch=0), answer(1, 3, 0, epoch=1, assigned=True))
    assert switch.held_clients == [] and rejoined == [("10.0.0.7 wl-c m-1", "g")]


def test_nothing_is_left_watched_once_answered() -> None:
    switch, coordinator = interceptor(), Client()
    exchange(switch, coordinator, heartbeat(1, 4, epoch=12), answer(1, 4, GROUP_ID_NOT_FOUND))
    assert switch._watch == {}


def commit_answer(version: int, errors: list[int]) -> Any:
    topic: dict[str, Any] = {"TopicId": TOPIC_ID} if version >= 10 else {"Name": "orders"}
    topic["Partitions"] = [{"PartitionIndex": i, "ErrorCode": e} for i, e in enumerate(errors)]
    body = schema.encode(offset_commit.RESPONSE, version, schema.new(offset_commit.RESPONSE, version, Topics=[topic]))
    payload = struct.pack(">i", 5) + (b"\x00" if version >= 8 else b"") + body
    return SimpleNamespace(api_key=8, correlation_id=5, api_version=version,
                           answer=[struct.pack(">i", len(payload)), memoryview(payload)])


def commit_errors(entry: Any) -> list[int]:
    framed = memoryview(b"".join(entry.answer))
    answer = schema.decode(offset_commit.RESPONSE, entry.api_version, framed[9:])
    return [p.ErrorCode for t in answer.Topics for p in t.Partitions]


@pytest.mark.parametrize("version", COMMIT_VERSIONS)
def test_a_commit_refused_for_a_group_the_target_never_had_is_refused_as_from_an_unknown_member(
        version: int) -> None:
    entry = commit_answer(version, [GROUP_ID_NOT_FOUND, 0, GROUP_ID_NOT_FOUND])
    interceptor().observe_answer(Client(), entry)  # type: ignore[arg-type]
    assert commit_errors(entry) == [UNKNOWN_MEMBER_ID, 0, UNKNOWN_MEMBER_ID]


@pytest.mark.parametrize(("switch_epoch", "version", "errors"), [
    (0, 9, [GROUP_ID_NOT_FOUND]),  # no switch yet: transparent
    (1, 8, [0]),  # before v9 the coordinator answers ILLEGAL_GENERATION itself
    (1, 9, [0, 22, UNKNOWN_MEMBER_ID]),  # ILLEGAL_GENERATION, or already the answer clients expect
])
def test_other_commit_answers_pass_unchanged(switch_epoch: int, version: int, errors: list[int]) -> None:
    entry = commit_answer(version, errors)
    before = b"".join(entry.answer)
    interceptor(switch_epoch).observe_answer(Client(), entry)  # type: ignore[arg-type]
    assert b"".join(entry.answer) == before
