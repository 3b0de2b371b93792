"""Kafka's primitive wire types as `construct` building blocks.

Kafka has two encodings of most variable-length types. Classic versions use fixed-width lengths
(int16 for strings, int32 for bytes and arrays, -1 = null); flexible versions (KIP-482) use an
unsigned varint holding length + 1 (0 = null). Each builder below takes `compact` and `nullable`
so a message layout can be compiled for one exact version.

Every decoder checks a declared length against the bytes that remain before it reads or loops, so
a hostile length can neither allocate beyond the frame nor spin through billions of empty
elements. Errors surface as `construct` errors here and become `DecodeError` in `schema.decode`.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Any

import construct as cs
from construct.core import stream_read, stream_write

Int8 = cs.Int8sb
Int16 = cs.Int16sb
Int32 = cs.Int32sb
Int64 = cs.Int64sb
UInt16 = cs.Int16ub
Float64 = cs.Float64b
Bool = cs.Flag


def _remaining(stream: io.BytesIO) -> int:
    return len(stream.getbuffer()) - stream.tell()


class UnsignedVarInt(cs.Construct):  # type: ignore[misc]
    """Unsigned LEB128 limited to 5 bytes (Kafka never sends more for a length or a tag)."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> int:
        value = 0
        for shift in range(0, 35, 7):
            byte: int = stream_read(stream, 1, path)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > 0xFFFFFFFF:  # 5 bytes hold 35 bits; accept only what we can write back
                    raise cs.ConstructError(f"unsigned varint beyond 32 bits at {path}")
                return value
        raise cs.ConstructError(f"unsigned varint longer than 5 bytes at {path}")

    def _build(self, obj: int, stream: io.BytesIO, context: Any, path: str) -> int:
        if obj < 0 or obj > 0xFFFFFFFF:
            raise cs.ConstructError(f"unsigned varint out of range: {obj}")
        data = encode_uvarint(obj)
        stream_write(stream, data, len(data), path)
        return obj


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative int as an unsigned varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


UVarInt = UnsignedVarInt()


class _Length(cs.Construct):  # type: ignore[misc]
    """A length prefix: int16/int32 (-1 = null) or compact uvarint N+1 (0 = null); None means null."""

    def __init__(self, classic: cs.Construct, compact: bool) -> None:
        super().__init__()
        self.classic = classic
        self.compact = compact

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> int | None:
        if self.compact:
            n = UVarInt._parse(stream, context, path) - 1
        else:
            n = self.classic._parse(stream, context, path)
        if n < -1:
            raise cs.ConstructError(f"negative length {n} at {path}")
        if n > _remaining(stream):
            raise cs.ConstructError(f"length {n} beyond the {_remaining(stream)} remaining bytes at {path}")
        return None if n == -1 else n

    def _build(self, obj: int | None, stream: io.BytesIO, context: Any, path: str) -> int | None:
        if self.compact:
            UVarInt._build(0 if obj is None else obj + 1, stream, context, path)
        else:
            self.classic._build(-1 if obj is None else obj, stream, context, path)
        return obj


class KString(cs.Construct):  # type: ignore[misc]
    """UTF-8 string; `nullable` decides whether a null length is legal in this version."""

    def __init__(self, compact: bool, nullable: bool) -> None:
        super().__init__()
        self.length = _Length(Int16, compact)
        self.nullable = nullable

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> str | None:
        n = self.length._parse(stream, context, path)
        if n is None:
            if not self.nullable:
                raise cs.ConstructError(f"null in a non-nullable string at {path}")
            return None
        return bytes(stream_read(stream, n, path)).decode("utf-8")

    def _build(self, obj: str | None, stream: io.BytesIO, context: Any, path: str) -> str | None:
        if obj is None:
            if not self.nullable:
                raise cs.ConstructError(f"None for a non-nullable string at {path}")
            self.length._build(None, stream, context, path)
            return obj
        data = obj.encode("utf-8")
        self.length._build(len(data), stream, context, path)
        stream_write(stream, data, len(data), path)
        return obj


class KBytes(cs.Construct):  # type: ignore[misc]
    """Opaque bytes (also used for `records`): int32 or compact length, optionally nullable."""

    def __init__(self, compact: bool, nullable: bool) -> None:
        super().__init__()
        self.length = _Length(Int32, compact)
        self.nullable = nullable

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> bytes | None:
        n = self.length._parse(stream, context, path)
        if n is None:
            if not self.nullable:
                raise cs.ConstructError(f"null in non-nullable bytes at {path}")
            return None
        return bytes(stream_read(stream, n, path))

    def _build(self, obj: bytes | None, stream: io.BytesIO, context: Any, path: str) -> bytes | None:
        if obj is None:
            if not self.nullable:
                raise cs.ConstructError(f"None for non-nullable bytes at {path}")
            self.length._build(None, stream, context, path)
            return obj
        self.length._build(len(obj), stream, context, path)
        stream_write(stream, bytes(obj), len(obj), path)
        return obj


class KArray(cs.Construct):  # type: ignore[misc]
    """An array of one element layout; the count is checked against the remaining bytes."""

    def __init__(self, element: cs.Construct, compact: bool, nullable: bool) -> None:
        super().__init__()
        self.element = element
        self.length = _Length(Int32, compact)
        self.nullable = nullable

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> list[Any] | None:
        n = self.length._parse(stream, context, path)
        if n is None:
            if not self.nullable:
                raise cs.ConstructError(f"null in a non-nullable array at {path}")
            return None
        parse = self.element._parsereport
        return [parse(stream, context, path) for _ in range(n)]

    def _build(self, obj: Sequence[Any] | None, stream: io.BytesIO, context: Any, path: str) -> Any:
        if obj is None:
            if not self.nullable:
                raise cs.ConstructError(f"None for a non-nullable array at {path}")
            self.length._build(None, stream, context, path)
            return obj
        self.length._build(len(obj), stream, context, path)
        for item in obj:
            self.element._build(item, stream, context, path)
        return obj


class KUuid(cs.Construct):  # type: ignore[misc]
    """A 16-byte UUID as `uuid.UUID` (Kafka's topic ids and client instance ids)."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(stream_read(stream, 16, path)))

    def _build(self, obj: uuid.UUID, stream: io.BytesIO, context: Any, path: str) -> uuid.UUID:
        stream_write(stream, obj.bytes, 16, path)
        return obj


Uuid = KUuid()
ZERO_UUID = uuid.UUID(int=0)


def primitive(type_name: str, compact: bool, nullable: bool) -> cs.Construct:
    """The construct for one Kafka JSON primitive type name at one version's encoding."""
    fixed = {
        "int8": Int8,
        "int16": Int16,
        "int32": Int32,
        "int64": Int64,
        "uint16": UInt16,
        "float64": Float64,
        "bool": Bool,
        "uuid": Uuid,
    }
    if type_name in fixed:
        return fixed[type_name]
    if type_name == "string":
        return KString(compact, nullable)
    if type_name in ("bytes", "records"):
        return KBytes(compact, nullable)
    raise ValueError(f"unknown Kafka primitive type {type_name!r}")


def default_for(type_name: str) -> Any:
    """Kafka's default value of a primitive type when the schema names none."""
    if type_name in ("int8", "int16", "int32", "int64", "uint16"):
        return 0
    if type_name == "float64":
        return 0.0
    if type_name == "bool":
        return False
    if type_name == "string":
        return ""
    if type_name == "bytes":
        return b""
    if type_name == "records":
        return None
    if type_name == "uuid":
        return ZERO_UUID
    raise ValueError(f"unknown Kafka primitive type {type_name!r}")
