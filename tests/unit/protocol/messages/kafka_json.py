"""Test helper: Kafka's official message JSON from the kafka-clients jar, as comparable field lists.

The jar is only a test oracle: the runtime never reads it. A field becomes a tuple of what decides
its wire format at one version (name, type, nullable, tag) plus its `new()` default and subfields.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from protocol.primitives import default_for
from protocol.schema import NULL, Field, in_range, versions

JAR_NAME = "kafka-clients-4.4.0.jar"
JAR_PLACES = (
    Path.home() / ".m2/repository/org/apache/kafka/kafka-clients/4.4.0",
    Path.home() / ".cache/kafka-failover-proxy/kafka-4.4.0/libs",
)
PRIMITIVES = {"int8", "int16", "int32", "int64", "uint16", "float64", "bool", "string", "bytes",
              "records", "uuid"}

FieldView = tuple[str, str, bool, int | None, Any, tuple[Any, ...]]


def find_jar() -> Path | None:
    return next((place / JAR_NAME for place in JAR_PLACES if (place / JAR_NAME).is_file()), None)


def load_messages(jar: Path) -> dict[str, dict[str, Any]]:
    """Every `common/message/*.json` of the jar by message name, comments stripped."""
    messages = {}
    with zipfile.ZipFile(jar) as archive:
        for name in archive.namelist():
            if name.startswith("common/message/") and name.endswith(".json"):
                text = archive.read(name).decode("utf-8")
                lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
                message = json.loads("\n".join(lines))
                messages[message["name"]] = message
    return messages


def served_range(request_json: dict[str, Any]) -> tuple[int, int]:
    """validVersions without an unstable latest version, which a broker does not advertise."""
    low, high = versions(request_json["validVersions"])
    return (low, high - 1) if request_json.get("latestVersionUnstable") else (low, high)


def json_view(fields: list[dict[str, Any]], version: int, structs: dict[str, Any]) -> tuple[FieldView, ...]:
    out = []
    for f in fields:
        if not in_range(version, versions(f["versions"])):
            continue
        element = f["type"].removeprefix("[]")
        sub = f.get("fields") or ([] if element in PRIMITIVES else structs[element]["fields"])
        tagged = in_range(version, versions(f.get("taggedVersions", "none")))
        out.append((
            f["name"],
            f["type"],
            in_range(version, versions(f.get("nullableVersions", "none"))),
            f.get("tag") if tagged else None,
            _json_default(f),
            json_view(sub, version, structs),
        ))
    return tuple(out)


def spec_view(fields: tuple[Field, ...], version: int) -> tuple[FieldView, ...]:
    return tuple(
        (
            f.name,
            f.type,
            in_range(version, versions(f.nullable)),
            f.tag if in_range(version, versions(f.tagged)) else None,
            f.default,
            spec_view(f.fields, version),
        )
        for f in fields
        if in_range(version, versions(f.versions))
    )


def _json_default(f: dict[str, Any]) -> Any:
    """The JSON default as our specs write it: None when it equals the type's zero value."""
    raw = f.get("default")
    if raw is None:
        return None
    if str(raw) == NULL:
        return NULL
    kind = f["type"]
    if kind.startswith("[]") or kind not in PRIMITIVES:
        raise AssertionError(f"unexpected default {raw!r} for {f['name']}")
    value: Any
    if kind == "bool":
        value = str(raw).lower() == "true"
    elif kind.startswith(("int", "uint")):
        value = int(str(raw), 0)
    else:
        value = raw
    return None if value == default_for(kind) else value
