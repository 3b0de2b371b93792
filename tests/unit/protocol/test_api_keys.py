"""The API table: facts a 4.4 broker shows, and a conformance check against the kafka-clients jar."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from protocol.api_keys import (
    API_TABLE,
    BROKER_API_KEYS,
    ApiKey,
    is_flexible,
    request_header_version,
    response_header_version,
)
from protocol.errors import UnsupportedVersion

JAR_NAME = "kafka-clients-4.4.0.jar"
JAR_PLACES = (
    Path.home() / ".m2/repository/org/apache/kafka/kafka-clients/4.4.0" / JAR_NAME,
    Path.home() / ".cache/kafka-failover-proxy/kafka-4.4.0/libs" / JAR_NAME,
)
REMOVED_IN_4_0 = {
    ApiKey.LEADER_AND_ISR,
    ApiKey.STOP_REPLICA,
    ApiKey.UPDATE_METADATA,
    ApiKey.CONTROLLED_SHUTDOWN,
}


def test_api_keys_are_contiguous_from_produce_to_unregister_controller() -> None:
    assert [int(k) for k in ApiKey] == list(range(95))
    assert (ApiKey(0), ApiKey(18), ApiKey(94)) == (
        ApiKey.PRODUCE,
        ApiKey.API_VERSIONS,
        ApiKey.UNREGISTER_CONTROLLER,
    )


def test_every_key_with_versions_is_in_the_table() -> None:
    assert set(API_TABLE) == set(ApiKey) - REMOVED_IN_4_0
    for info in API_TABLE.values():
        assert 0 <= info.min_version <= info.max_version, info
        assert info.broker or info.controller, info


@pytest.mark.parametrize(
    ("key", "versions", "first_flexible"),
    [
        (ApiKey.PRODUCE, (0, 13), 9),
        (ApiKey.FETCH, (4, 18), 12),
        (ApiKey.METADATA, (0, 13), 9),
        (ApiKey.FIND_COORDINATOR, (0, 6), 3),
        (ApiKey.API_VERSIONS, (0, 5), 3),
        (ApiKey.SASL_HANDSHAKE, (0, 1), None),
        (ApiKey.DESCRIBE_CLUSTER, (0, 2), 0),
        (ApiKey.SHARE_FETCH, (1, 2), 0),
        (ApiKey.TXN_OFFSET_COMMIT, (0, 6), 3),
    ],
)
def test_ranges_from_the_protocol_reference(
    key: ApiKey, versions: tuple[int, int], first_flexible: int | None
) -> None:
    info = API_TABLE[key]
    assert (info.min_version, info.max_version) == versions
    assert info.first_flexible_version == first_flexible


def test_produce_is_advertised_from_v0_but_served_from_v3() -> None:
    produce = API_TABLE[ApiKey.PRODUCE]
    assert (produce.min_version, produce.lowest_served) == (0, 3)
    assert all(info.lowest_served == info.min_version for key, info in API_TABLE.items() if key != 0)


def test_unstable_latest_version_is_not_advertised() -> None:
    init_producer_id = API_TABLE[ApiKey.INIT_PRODUCER_ID]
    assert (init_producer_id.max_version, init_producer_id.unstable_version) == (5, 6)


def test_controller_only_apis_are_not_advertised_by_brokers() -> None:
    assert ApiKey.VOTE not in BROKER_API_KEYS
    assert ApiKey.BROKER_HEARTBEAT not in BROKER_API_KEYS
    assert {ApiKey.FETCH, ApiKey.API_VERSIONS, ApiKey.ADD_RAFT_VOTER} <= BROKER_API_KEYS


@pytest.mark.parametrize(
    ("key", "version", "request_header", "response_header"),
    [
        (ApiKey.PRODUCE, 8, 1, 0),
        (ApiKey.PRODUCE, 9, 2, 1),
        (ApiKey.METADATA, 12, 2, 1),
        (ApiKey.API_VERSIONS, 2, 1, 0),
        (ApiKey.API_VERSIONS, 3, 2, 0),  # KIP-511: the response header stays v0
        (ApiKey.API_VERSIONS, 99, 2, 0),  # a future version is flexible too
        (ApiKey.SASL_HANDSHAKE, 1, 1, 0),
        (ApiKey.DESCRIBE_CLUSTER, 0, 2, 1),
    ],
)
def test_header_versions(key: ApiKey, version: int, request_header: int, response_header: int) -> None:
    assert request_header_version(key, version) == request_header
    assert response_header_version(key, version) == response_header


@pytest.mark.parametrize("key", [ApiKey.LEADER_AND_ISR, 95, -1, 1000])
def test_keys_without_versions_are_unsupported(key: int) -> None:
    with pytest.raises(UnsupportedVersion):
        is_flexible(key, 0)
    with pytest.raises(UnsupportedVersion):
        request_header_version(key, 0)


# -- conformance with the official message schemas -------------------------------------------------


def find_jar() -> Path:
    for path in JAR_PLACES:
        if path.is_file():
            return path
    pytest.skip(f"{JAR_NAME} not found in {' or '.join(str(p.parent) for p in JAR_PLACES)}; run `make jars`")


def read_request_schemas(jar: Path) -> list[dict[str, Any]]:
    """Every `common/message/*Request.json` in the jar (Kafka's JSON allows // line comments)."""
    with zipfile.ZipFile(jar) as archive:
        names = [n for n in archive.namelist() if re.fullmatch(r"common/message/\w+Request\.json", n)]
        texts = [archive.read(n).decode() for n in names]
    return [json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M)) for text in texts]


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def expected_entry(schema: dict[str, Any]) -> dict[str, Any]:
    """What a 4.4.0 broker advertises for one schema, by the rules in protocol/api_keys.py."""
    low, _, high = schema["validVersions"].partition("-")
    low_version, high_version = int(low), int(high or low)
    unstable = schema.get("latestVersionUnstable", False)
    flexible = schema["flexibleVersions"]
    return {
        "name": schema["name"].removesuffix("Request"),
        "min_version": 0 if schema["apiKey"] == 0 else low_version,
        "lowest_served": low_version,
        "max_version": high_version - 1 if unstable else high_version,
        "unstable_version": high_version if unstable else None,
        "first_flexible_version": None if flexible == "none" else int(flexible.removesuffix("+")),
        "broker": "broker" in schema["listeners"],
        "controller": "controller" in schema["listeners"],
    }


def test_table_matches_the_kafka_clients_jar_schemas() -> None:
    schemas = read_request_schemas(find_jar())
    assert len(schemas) == len(ApiKey)
    for schema in schemas:
        key = ApiKey(schema["apiKey"])
        assert key.name == snake_case(schema["name"].removesuffix("Request"))
        if schema["validVersions"] == "none":
            assert key not in API_TABLE
            continue
        info = API_TABLE[key]
        actual = {field: getattr(info, field) for field in expected_entry(schema)}
        assert actual == expected_entry(schema), key.name
