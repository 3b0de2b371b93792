"""Synthetic Produce and Fetch responses, built from a decoded request at every version.

The switch answers these without a broker, so each must encode at the request's version, decode
back to itself, carry the chosen error on every requested partition, and hint at no leader.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import construct as cs
import pytest
from kio.serial import entity_reader

from protocol.errors import LocalProtocolError
from protocol.messages import fetch, produce
from protocol.schema import MessageSpec, decode, encode, new

NOT_LEADER_OR_FOLLOWER = 6
TOPIC_IDS = [uuid.UUID(int=0xA1), uuid.UUID(int=0xB2)]
PRODUCE_VERSIONS = range(produce.REQUEST.version_range[0], produce.REQUEST.version_range[1] + 1)
FETCH_VERSIONS = range(fetch.REQUEST.version_range[0], fetch.REQUEST.version_range[1] + 1)


def _round_trip(spec: MessageSpec, version: int, message: cs.Container) -> cs.Container:
    decoded = decode(spec, version, encode(spec, version, message))
    assert decoded == message
    return decoded


def _produce_request(version: int) -> cs.Container:
    topics = [
        cs.Container(Name=name, TopicId=topic_id, PartitionData=[
            cs.Container(Index=index, Records=b"\x00batch") for index in (0, 3)
        ])
        for name, topic_id in zip(("orders", "audit"), TOPIC_IDS, strict=True)
    ]
    request = new(produce.REQUEST, version, Acks=-1, TimeoutMs=30000, TopicData=topics)
    return decode(produce.REQUEST, version, encode(produce.REQUEST, version, request))


@pytest.mark.parametrize("version", PRODUCE_VERSIONS)
def test_produce_failed_response_fails_every_partition(version: int) -> None:
    response = _round_trip(produce.RESPONSE, version, produce.failed_response(
        _produce_request(version), version, NOT_LEADER_OR_FOLLOWER
    ))
    assert response.ThrottleTimeMs == 0
    assert [(t.get("Name"), t.get("TopicId")) for t in response.Responses] == (
        [(None, TOPIC_IDS[0]), (None, TOPIC_IDS[1])] if version >= 13 else [("orders", None), ("audit", None)]
    )
    partitions = [p for topic in response.Responses for p in topic.PartitionResponses]
    assert [(p.Index, p.ErrorCode, p.BaseOffset, p.LogAppendTimeMs) for p in partitions] == [
        (index, NOT_LEADER_OR_FOLLOWER, -1, -1) for index in (0, 3, 0, 3)
    ]
    assert all(p.get("LogStartOffset", -1) == -1 for p in partitions)
    assert all(p.get("CurrentLeader") is None and p.get("ErrorMessage") is None for p in partitions)
    assert response.get("NodeEndpoints") is None
    assert ("NodeEndpoints" in response) == (version >= 10)


def _fetch_request(version: int) -> cs.Container:
    topics = [
        cs.Container(Topic=name, TopicId=topic_id, Partitions=[
            cs.Container(Partition=index, FetchOffset=42, PartitionMaxBytes=1 << 20) for index in (1, 2)
        ])
        for name, topic_id in zip(("orders", "audit"), TOPIC_IDS, strict=True)
    ]
    request = new(fetch.REQUEST, version, MaxWaitMs=500, MinBytes=1, SessionEpoch=3, Topics=topics)
    return decode(fetch.REQUEST, version, encode(fetch.REQUEST, version, request))


@pytest.mark.parametrize("error_code", [0, NOT_LEADER_OR_FOLLOWER])
@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_fetch_empty_response_answers_every_partition_without_records(version: int, error_code: int) -> None:
    response = _round_trip(fetch.RESPONSE, version, fetch.empty_response(
        _fetch_request(version), version, error_code
    ))
    assert (response.get("ErrorCode", 0), response.get("SessionId", 0), response.ThrottleTimeMs) == (0, 0, 0)
    assert [(t.get("Topic"), t.get("TopicId")) for t in response.Responses] == (
        [(None, TOPIC_IDS[0]), (None, TOPIC_IDS[1])] if version >= 13 else [("orders", None), ("audit", None)]
    )
    partitions = [p for topic in response.Responses for p in topic.Partitions]
    assert [(p.PartitionIndex, p.ErrorCode, p.HighWatermark, p.Records) for p in partitions] == [
        (index, error_code, -1, b"") for index in (1, 2, 1, 2)
    ]
    assert all(p.get("PreferredReadReplica", -1) == -1 and p.get("CurrentLeader") is None for p in partitions)
    assert all((p.LastStableOffset, p.AbortedTransactions) == (-1, None) for p in partitions)
    assert response.get("NodeEndpoints") is None


@pytest.mark.parametrize("version", [v for v in FETCH_VERSIONS if v >= fetch.FIRST_TOP_LEVEL_ERROR])
def test_fetch_error_response_carries_only_the_top_level_error(version: int) -> None:
    response = _round_trip(fetch.RESPONSE, version, fetch.error_response(version, NOT_LEADER_OR_FOLLOWER))
    assert (response.ErrorCode, response.SessionId, response.Responses) == (NOT_LEADER_OR_FOLLOWER, 0, [])


@pytest.mark.parametrize("version", [v for v in FETCH_VERSIONS if v < fetch.FIRST_TOP_LEVEL_ERROR])
def test_fetch_error_response_refuses_versions_without_a_top_level_error(version: int) -> None:
    with pytest.raises(LocalProtocolError, match="no top-level ErrorCode"):
        fetch.error_response(version, NOT_LEADER_OR_FOLLOWER)


def _kio_response(api: str, version: int) -> type:
    module = importlib.import_module(f"kio.schema.{api}.v{version}.response")
    return getattr(module, "ProduceResponse" if api == "produce" else "FetchResponse")  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", PRODUCE_VERSIONS)
def test_kio_reads_our_failed_produce_response(version: int) -> None:
    response = produce.failed_response(_produce_request(version), version, NOT_LEADER_OR_FOLLOWER)
    wire = encode(produce.RESPONSE, version, response)
    entity: Any
    entity, size = entity_reader(_kio_response("produce", version))(wire, 0)
    assert size == len(wire)
    errors = [p.error_code.value for topic in entity.responses for p in topic.partition_responses]
    assert errors == [NOT_LEADER_OR_FOLLOWER] * 4


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_kio_reads_our_empty_fetch_response(version: int) -> None:
    response = fetch.empty_response(_fetch_request(version), version, NOT_LEADER_OR_FOLLOWER)
    wire = encode(fetch.RESPONSE, version, response)
    entity: Any
    entity, size = entity_reader(_kio_response("fetch", version))(wire, 0)
    assert size == len(wire)
    partitions = [p for topic in entity.responses for p in topic.partitions]
    answers = [(p.error_code.value, p.high_watermark, p.records) for p in partitions]
    assert answers == [(NOT_LEADER_OR_FOLLOWER, -1, b"")] * 4
