"""Our message specs against Kafka 4.4's own JSON schemas, field by field and version by version.

For every version a 4.4 broker serves, the fields present must match in order, name, type,
nullability, tag and default, recursively; valid and flexible ranges must match too. The JSON comes
from the kafka-clients jar (Maven's cache or the harness's download); without it the test skips.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from protocol.messages import MESSAGES
from protocol.schema import MessageSpec, versions
from tests.unit.protocol.messages.kafka_json import find_jar, json_view, load_messages, served_range, spec_view

MODULES = sorted(MESSAGES.values(), key=lambda module: module.__name__)
SPECS = [(module, kind) for module in MODULES for kind in ("REQUEST", "RESPONSE")]


@pytest.fixture(scope="module")
def kafka_json() -> dict[str, dict[str, Any]]:
    jar = find_jar()
    if jar is None:
        pytest.skip("kafka-clients-4.4.0.jar not in ~/.m2 or ~/.cache/kafka-failover-proxy (run `make jars`)")
    return load_messages(jar)


def _ids(case: tuple[ModuleType, str]) -> str:
    return f"{case[0].__name__.rsplit('.', 1)[1]}-{case[1].lower()}"


@pytest.mark.parametrize("case", SPECS, ids=_ids)
def test_version_ranges_match_what_a_broker_serves(
    case: tuple[ModuleType, str], kafka_json: dict[str, dict[str, Any]]
) -> None:
    module, kind = case
    spec: MessageSpec = getattr(module, kind)
    official = kafka_json[spec.name]
    request = kafka_json[module.REQUEST.name]
    assert (spec.api_key, official["type"]) == (official["apiKey"], kind.lower())
    assert spec.version_range == served_range(request)
    assert versions(spec.flexible) == versions(official["flexibleVersions"])


@pytest.mark.parametrize("case", SPECS, ids=_ids)
def test_fields_match_at_every_served_version(
    case: tuple[ModuleType, str], kafka_json: dict[str, dict[str, Any]]
) -> None:
    module, kind = case
    spec: MessageSpec = getattr(module, kind)
    official = kafka_json[spec.name]
    structs = {struct["name"]: struct for struct in official.get("commonStructs", [])}
    low, high = spec.version_range
    for version in range(low, high + 1):
        assert spec_view(spec.fields, version) == json_view(official["fields"], version, structs), version


def test_every_api_of_the_table_has_both_directions() -> None:
    names = {getattr(module, kind).name for module, kind in SPECS}
    assert len(names) == 2 * len(MESSAGES)
    assert all(name.endswith(("Request", "Response")) for name in names)
