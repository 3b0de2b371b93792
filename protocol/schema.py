"""Message schemas: a transcription of Kafka's message JSON, compiled to `construct` layouts.

Each API module under `protocol/messages/` declares its request and response as a `MessageSpec`:
the same fields, types, version ranges, nullable ranges and tags as Kafka's official
`common/message/*.json` (a conformance test compares the two field by field). Field names keep
Kafka's PascalCase so that comparison, and reading the Kafka docs beside our code, stays trivial.

`layout(spec, version)` compiles the spec for exactly one version: fields absent in that version
disappear, strings/bytes/arrays get the classic or compact encoding, and flexible versions get a
tagged-field section at the end of every struct. Compiled layouts are cached per spec.

Decoded messages are `construct.Container`s (attribute access, dict equality). Tagged fields are
`None` when absent, so a decode -> encode round trip is byte-exact: a tag is written back exactly
when it was read. Tags we do not know are kept raw in `_unknown_tags` and written back in order.

This layer is the readable truth, not the fast path: hot APIs get hand-written patchers that are
property-tested against it.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from protocol.errors import DecodeError, LocalProtocolError, UnsupportedVersion
from protocol.primitives import Int8, KArray, UVarInt, default_for, primitive

MAX_VERSION = 0x7FFF
UNKNOWN_TAGS = "_unknown_tags"
NULL = "null"  # a `default` of "null" means null, exactly as in Kafka's JSON


def versions(spec: str) -> tuple[int, int]:
    """Parse Kafka's version notation: "3+", "0-4", "7" or "none" (an empty range)."""
    if spec == "none":
        return (1, 0)
    if spec.endswith("+"):
        return (int(spec[:-1]), MAX_VERSION)
    if "-" in spec:
        low, high = spec.split("-")
        return (int(low), int(high))
    return (int(spec), int(spec))


def in_range(version: int, rng: tuple[int, int]) -> bool:
    return rng[0] <= version <= rng[1]


@dataclass(frozen=True)
class Field:
    """One field of a message or struct, as in Kafka's JSON (type names included; `default=NULL` = null)."""

    name: str
    type: str
    versions: str = "0+"
    nullable: str = "none"
    tag: int | None = None
    tagged: str = "none"
    default: Any = None
    fields: tuple[Field, ...] = ()

    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def element_type(self) -> str:
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self) -> bool:
        return bool(self.fields)


@dataclass(frozen=True)
class MessageSpec:
    """A request or response schema of one API."""

    name: str
    api_key: int
    valid: str
    flexible: str
    fields: tuple[Field, ...]
    _layouts: dict[int, cs.Construct] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def version_range(self) -> tuple[int, int]:
        return versions(self.valid)

    def is_flexible(self, version: int) -> bool:
        return in_range(version, versions(self.flexible))


class KStruct(cs.Construct):  # type: ignore[misc]
    """A Kafka struct at one version: regular fields in order, then (if flexible) tagged fields."""

    def __init__(
        self,
        regular: list[tuple[str, cs.Construct, Any]],
        tagged: dict[int, tuple[str, cs.Construct]],
        flexible: bool,
    ) -> None:
        super().__init__()
        self.regular = regular
        self.tagged = tagged
        self.flexible = flexible

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> cs.Container:
        obj = cs.Container()
        for name, sub, _default in self.regular:
            obj[name] = sub._parsereport(stream, context, path)
        if self.flexible:
            self._parse_tags(obj, stream, context, path)
        return obj

    def _parse_tags(self, obj: cs.Container, stream: io.BytesIO, context: Any, path: str) -> None:
        for name, _sub in self.tagged.values():
            obj[name] = None
        unknown: list[tuple[int, bytes]] = []
        last = -1
        for _ in range(UVarInt._parse(stream, context, path)):
            tag = UVarInt._parse(stream, context, path)
            size = UVarInt._parse(stream, context, path)
            if tag <= last:
                raise cs.ConstructError(f"tagged fields out of order ({tag} after {last}) at {path}")
            last = tag
            data = cs.core.stream_read(stream, size, path)
            if tag in self.tagged:
                name, sub = self.tagged[tag]
                inner = io.BytesIO(data)
                obj[name] = sub._parsereport(inner, context, path)
                if inner.tell() != size:
                    raise cs.ConstructError(f"tagged field {name} has {size - inner.tell()} extra bytes")
            else:
                unknown.append((tag, bytes(data)))
        if unknown:
            obj[UNKNOWN_TAGS] = unknown

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        for name, sub, default in self.regular:
            value = obj.get(name, default) if hasattr(obj, "get") else default
            sub._build(_fresh(value), stream, context, path)
        if self.flexible:
            self._build_tags(obj, stream, context, path)
        return obj

    def _build_tags(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> None:
        entries: list[tuple[int, bytes]] = list(obj.get(UNKNOWN_TAGS, ()) if hasattr(obj, "get") else ())
        for tag, (name, sub) in self.tagged.items():
            value = obj.get(name) if hasattr(obj, "get") else None
            if value is not None:
                entries.append((tag, sub.build(value)))
        entries.sort(key=lambda entry: entry[0])
        UVarInt._build(len(entries), stream, context, path)
        for tag, data in entries:
            UVarInt._build(tag, stream, context, path)
            UVarInt._build(len(data), stream, context, path)
            cs.core.stream_write(stream, data, len(data), path)


class NullableStruct(cs.Construct):  # type: ignore[misc]
    """A nullable struct (KIP-893): an int8 marker, -1 for null and 1 before a present struct."""

    def __init__(self, struct: KStruct) -> None:
        super().__init__()
        self.struct = struct

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> cs.Container | None:
        if Int8._parse(stream, context, path) < 0:
            return None
        return self.struct._parse(stream, context, path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        Int8._build(-1 if obj is None else 1, stream, context, path)
        if obj is not None:
            self.struct._build(obj, stream, context, path)
        return obj


def _fresh(value: Any) -> Any:
    """Defaults may be shared containers; hand the builder a value it cannot mutate by accident."""
    return list(value) if isinstance(value, list) else value


def _compile_field(f: Field, version: int, flexible: bool) -> cs.Construct:
    nullable = in_range(version, versions(f.nullable))
    if f.is_struct:
        element = _compile_struct(f.fields, version, flexible)
    elif f.is_array:
        element = primitive(f.element_type, flexible, False)
    else:
        return primitive(f.type, flexible, nullable)
    if f.is_array:
        return KArray(element, flexible, nullable)
    return NullableStruct(element) if nullable else element


def _default(f: Field, version: int) -> Any:
    if f.tag is not None or f.default == NULL:
        return None
    if f.is_array:
        return []
    if f.is_struct:
        return default_value(f.fields, version)
    if f.default is not None:
        return f.default
    return default_for(f.type)


def default_value(fields: tuple[Field, ...], version: int) -> cs.Container:
    """A struct holding every field's default at `version` (what Kafka's generated code starts with)."""
    return cs.Container(
        {f.name: _default(f, version) for f in fields if in_range(version, versions(f.versions))}
    )


def _compile_struct(fields: tuple[Field, ...], version: int, flexible: bool) -> KStruct:
    regular: list[tuple[str, cs.Construct, Any]] = []
    tagged: dict[int, tuple[str, cs.Construct]] = {}
    for f in fields:
        if not in_range(version, versions(f.versions)):
            continue
        sub = _compile_field(f, version, flexible)
        if f.tag is not None and in_range(version, versions(f.tagged)):
            if flexible:
                tagged[f.tag] = (f.name, sub)
            continue
        regular.append((f.name, sub, _default(f, version)))
    return KStruct(regular, tagged, flexible)


def layout(spec: MessageSpec, version: int) -> cs.Construct:
    """The compiled construct layout of `spec` at `version` (cached)."""
    compiled = spec._layouts.get(version)
    if compiled is None:
        if not in_range(version, spec.version_range):
            raise UnsupportedVersion(spec.name, version)
        compiled = _compile_struct(spec.fields, version, spec.is_flexible(version))
        spec._layouts[version] = compiled
    return compiled


_DECODE_FAILURES = (
    cs.ConstructError, ValueError, UnicodeDecodeError, OverflowError, IndexError, struct.error
)


def decode(spec: MessageSpec, version: int, data: bytes | bytearray | memoryview) -> cs.Container:
    """Decode a whole message body; every byte must belong to the message."""
    compiled = layout(spec, version)
    stream = io.BytesIO(data)
    try:
        obj = compiled._parsereport(stream, cs.Container(), "(parsing)")
    except _DECODE_FAILURES as exc:
        raise DecodeError(f"{spec.name} v{version}: {exc}") from exc
    if stream.tell() != len(data):
        raise DecodeError(f"{spec.name} v{version}: {len(data) - stream.tell()} trailing bytes")
    return obj


def encode(spec: MessageSpec, version: int, obj: Any) -> bytes:
    """Encode a message body; missing regular fields take their defaults."""
    compiled = layout(spec, version)
    stream = io.BytesIO()
    try:
        compiled._build(obj, stream, cs.Container(), "(building)")
    except (cs.ConstructError, ValueError, OverflowError, TypeError, AttributeError, struct.error) as exc:
        raise LocalProtocolError(f"{spec.name} v{version}: {exc}") from exc
    return stream.getvalue()


def new(spec: MessageSpec, version: int, **values: Any) -> cs.Container:
    """A message with every field at its default, then `values` applied (for synthetic messages)."""
    obj = default_value(spec.fields, version)
    obj.update(values)
    return obj
