"""Position-based readers and writers shared by the patchers.

Every reader takes the buffer and a position and returns the position after what it read, so a
patcher is one forward walk with no objects per field. Readers check each declared length against
what remains, so a hostile length fails at once instead of looping or slicing short (a slice past
the end would silently truncate). Fixed-size reads are left to `struct.unpack_from` and indexing;
their `struct.error` / `IndexError` on a short buffer become `DecodeError` in `guarded`, the one
wrapper every public patcher goes through.

Strictness follows the schema layer where it costs nothing: nulls where the field is not nullable,
tags out of order and varints beyond 32 bits are rejected; string contents are never decoded
(UTF-8 is the client's business, and a patcher only forwards them).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple, NoReturn, TypeVar

from protocol.errors import DecodeError
from protocol.primitives import encode_uvarint

Buffer = bytes | bytearray | memoryview
Pieces = list[bytes | memoryview]
Splice = tuple[int, int, bytes]  # replace body[start:stop] by the bytes


class Tag(NamedTuple):
    """One tagged field: its number, where its size varint starts, where its data starts and ends."""

    tag: int
    size_at: int
    start: int
    end: int


INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
INT32_PAIR = struct.Struct(">ii")
NO_EPOCH = INT32.pack(-1)

T = TypeVar("T")


def fail(what: str, pos: int) -> NoReturn:
    raise DecodeError(f"{what} at offset {pos}")


def guarded(name: str, version: int, walk: Callable[[], T]) -> T:
    """Run one patch; a read past the end (IndexError, struct.error) becomes a DecodeError."""
    try:
        return walk()
    except (IndexError, struct.error) as exc:
        raise DecodeError(f"{name} v{version}: truncated ({exc})") from None


def uvarint(data: Buffer, pos: int) -> tuple[int, int]:
    """An unsigned varint (at most 5 bytes, at most 32 bits): (value, next position)."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = byte & 0x7F
    for shift in (7, 14, 21, 28):
        pos += 1
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value > 0xFFFFFFFF:
                fail("unsigned varint beyond 32 bits", pos)
            return value, pos + 1
    fail("unsigned varint longer than 5 bytes", pos)


def length(data: Buffer, pos: int, compact: bool, classic: struct.Struct) -> tuple[int, int]:
    """A length prefix: compact uvarint N+1 or a classic int16/int32; -1 means null."""
    if compact:
        raw, pos = uvarint(data, pos)
        n = raw - 1
    else:
        n = classic.unpack_from(data, pos)[0]
        pos += classic.size
    if n < -1:
        fail(f"negative length {n}", pos)
    if n > len(data) - pos:
        fail(f"length {n} beyond the {len(data) - pos} remaining bytes", pos)
    return n, pos


def array_length(data: Buffer, pos: int, compact: bool, nullable: bool = False) -> tuple[int, int]:
    """Element count of an array (-1 only when `nullable`)."""
    n, after = length(data, pos, compact, INT32)
    if n < 0 and not nullable:
        fail("null in a non-nullable array", pos)
    return n, after


def skip_string(data: Buffer, pos: int, compact: bool, nullable: bool = False) -> int:
    n, after = length(data, pos, compact, INT16)
    if n < 0:
        if not nullable:
            fail("null in a non-nullable string", pos)
        return after
    return after + n


def skip_bytes(data: Buffer, pos: int, compact: bool, nullable: bool = False) -> int:
    """Bytes or records: int32 or compact length, then the bytes (never copied)."""
    n, after = length(data, pos, compact, INT32)
    if n < 0:
        if not nullable:
            fail("null in non-nullable bytes", pos)
        return after
    return after + n


def fixed(data: Buffer, pos: int, size: int) -> int:
    """Skip `size` fixed bytes, failing if they are not all there."""
    pos += size
    if pos > len(data):
        fail(f"field of {size} bytes runs past the end", pos - size)
    return pos


def tag_fields(data: Buffer, pos: int) -> tuple[list[Tag], int]:
    """A tagged-field section: its fields in ascending tag order, and its end."""
    if data[pos] == 0:
        return [], pos + 1
    count, pos = uvarint(data, pos)
    if count > len(data) - pos:
        fail(f"{count} tagged fields in {len(data) - pos} bytes", pos)
    found: list[Tag] = []
    last = -1
    for _ in range(count):
        tag, pos = uvarint(data, pos)
        if tag <= last:
            fail(f"tagged fields out of order ({tag} after {last})", pos)
        last = tag
        size_at = pos
        size, pos = uvarint(data, pos)
        end = pos + size
        if end > len(data):
            fail(f"tagged field of {size} bytes runs past the end", pos)
        found.append(Tag(tag, size_at, pos, end))
        pos = end
    return found, pos


def skip_tags(data: Buffer, pos: int) -> int:
    if data[pos] == 0:  # the usual case
        return pos + 1
    return tag_fields(data, pos)[1]


def string(value: str, compact: bool) -> bytes:
    raw = value.encode("utf-8")
    prefix = encode_uvarint(len(raw) + 1) if compact else INT16.pack(len(raw))
    return prefix + raw


def splice(body: memoryview, changes: list[Splice]) -> Pieces:
    """The body with each (start, stop, bytes) change applied, as slices of the body around them."""
    if not changes:
        return [body]
    pieces: Pieces = []
    last = 0
    for start, stop, replacement in changes:
        pieces.append(body[last:start])
        pieces.append(replacement)
        last = stop
    pieces.append(body[last:])
    return pieces
