"""Test helper: hypothesis strategies for any message, driven by its spec at one version.

A generated message has exactly the keys `decode` returns (regular fields, tagged fields as None
or a value) plus, in flexible versions, random unknown tags that must survive a round trip.
"""

from __future__ import annotations

from typing import Any

import construct as cs
from hypothesis import strategies as st

from protocol.schema import UNKNOWN_TAGS, Field, MessageSpec, in_range, versions

BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
}
MAX_ITEMS = 2


def message(spec: MessageSpec, version: int) -> st.SearchStrategy[cs.Container]:
    """Random valid messages of `spec` at `version`."""
    return struct(spec.fields, version, spec.is_flexible(version))


def struct(fields: tuple[Field, ...], version: int, flexible: bool) -> st.SearchStrategy[cs.Container]:
    present = [f for f in fields if in_range(version, versions(f.versions))]
    tagged = [f for f in present if f.tag is not None and in_range(version, versions(f.tagged))]
    values: dict[str, st.SearchStrategy[Any]] = {}
    for f in present:
        if f in tagged:
            if flexible:
                values[f.name] = st.none() | value(f, version, flexible)
        else:
            values[f.name] = value(f, version, flexible)
    body = st.fixed_dictionaries(values).map(cs.Container)
    if not flexible:
        return body
    return st.tuples(body, unknown_tags({f.tag for f in tagged if f.tag is not None})).map(_with_unknown)


def value(f: Field, version: int, flexible: bool) -> st.SearchStrategy[Any]:
    nullable = in_range(version, versions(f.nullable))
    if f.is_struct:
        element = struct(f.fields, version, flexible)
    elif f.is_array:
        element = primitive(f.element_type, False)
    else:
        return primitive(f.type, nullable)
    result = st.lists(element, max_size=MAX_ITEMS) if f.is_array else element
    return st.none() | result if nullable else result


def primitive(kind: str, nullable: bool) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any]
    if kind in BOUNDS:
        strategy = st.integers(*BOUNDS[kind])
    elif kind == "bool":
        strategy = st.booleans()
    elif kind == "float64":
        strategy = st.floats(allow_nan=False)
    elif kind == "string":
        strategy = st.text(max_size=6)
    elif kind in ("bytes", "records"):
        strategy = st.binary(max_size=12)
    elif kind == "uuid":
        strategy = st.uuids(allow_nil=True)
    else:
        raise AssertionError(f"no strategy for {kind}")
    return st.none() | strategy if nullable else strategy


def unknown_tags(known: set[int]) -> st.SearchStrategy[list[tuple[int, bytes]]]:
    """Sorted, distinct tags this struct does not know, each with opaque bytes."""
    tags = st.integers(0, 2**31).filter(lambda tag: tag not in known)
    entries = st.lists(st.tuples(tags, st.binary(max_size=5)), max_size=2, unique_by=lambda e: e[0])
    return entries.map(sorted)


def _with_unknown(parts: tuple[cs.Container, list[tuple[int, bytes]]]) -> cs.Container:
    body, unknown = parts
    if unknown:
        body[UNKNOWN_TAGS] = unknown
    return body


def unknown_tags_of(obj: Any) -> list[Any]:
    """Every `_unknown_tags` list in a message, depth first by key (Container equality skips them)."""
    found: list[Any] = []
    if isinstance(obj, dict):
        found.append(obj.get(UNKNOWN_TAGS))
        for key in sorted(obj):
            if key != UNKNOWN_TAGS:
                found.extend(unknown_tags_of(obj[key]))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(unknown_tags_of(item))
    return found
