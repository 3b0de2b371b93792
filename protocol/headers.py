"""Request and response headers, read and written without the schema engine.

Every frame a client sends is peeked (api key, version, correlation id, client id, header length), so
this runs once per request and is written with precompiled `struct.Struct`s and no construct.

Request header v1: api_key int16, api_version int16, correlation_id int32, client_id nullable string
with an int16 length (-1 = null). v2 adds a tagged-field section after client_id. client_id is never a
compact string, even in v2, so a broker can read the header of any ApiVersions request. Which header
an API version uses comes from `api_keys`: v2 for flexible versions, else v1.

Response header v0: correlation_id int32. v1 adds a tagged-field section. ApiVersions responses always
use v0 (KIP-511).

A client id that is not valid UTF-8 is decoded with replacement characters, as Java's broker does,
rather than refused: the proxy forwards the frame's bytes untouched anyway. Truncated or malformed
input raises `DecodeError`; an API key without versions in 4.4 raises `UnsupportedVersion`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol.api_keys import API_TABLE, ApiKey
from protocol.errors import DecodeError, LocalProtocolError, UnsupportedVersion

Buffer = bytes | bytearray | memoryview

_REQUEST_FIXED = struct.Struct(">hhih")  # api_key, api_version, correlation_id, client_id length
_REQUEST_FIXED_SIZE = _REQUEST_FIXED.size
_INT32 = struct.Struct(">i")
_EMPTY_TAGS = b"\x00"
_NEVER = 1 << 16  # above every int16 version: "never flexible"

# api key -> first flexible version, flattened from API_TABLE for one dict lookup per peek
_FIRST_FLEXIBLE: dict[int, int] = {
    key: _NEVER if info.first_flexible_version is None else info.first_flexible_version
    for key, info in API_TABLE.items()
}


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """A request header as peeked; the body starts at `header_length` within the frame."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_length: int


def _first_flexible(api_key: int, api_version: int) -> int:
    first = _FIRST_FLEXIBLE.get(api_key)
    if first is None:
        raise UnsupportedVersion(f"api key {api_key}", api_version)
    return first


def peek_request_header(frame: Buffer) -> RequestHeader:
    """Read the request header at the start of a frame body (the 4-byte size already removed)."""
    if len(frame) < _REQUEST_FIXED_SIZE:
        raise DecodeError(f"request header needs {_REQUEST_FIXED_SIZE} bytes, frame has {len(frame)}")
    api_key, api_version, correlation_id, length = _REQUEST_FIXED.unpack_from(frame)
    pos = _REQUEST_FIXED_SIZE
    client_id: str | None = None
    if length >= 0:
        pos += length
        if pos > len(frame):
            raise DecodeError(f"client_id of {length} bytes runs past the {len(frame)}-byte frame")
        client_id = str(frame[_REQUEST_FIXED_SIZE:pos], "utf-8", "replace")
    elif length != -1:
        raise DecodeError(f"client_id length {length} is neither -1 (null) nor >= 0")
    if api_version >= _first_flexible(api_key, api_version):
        pos = skip_tagged_fields(frame, pos)
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def peek_correlation_id(frame: Buffer) -> int:
    """The correlation id of a request frame body (bytes 4-8), without reading anything else."""
    if len(frame) < 8:
        raise DecodeError(f"request header needs 8 bytes for a correlation id, frame has {len(frame)}")
    value: int = _INT32.unpack_from(frame, 4)[0]
    return value


def peek_response_correlation_id(frame: Buffer) -> int:
    """The correlation id of a response frame body (bytes 0-4): all a response says about itself."""
    if len(frame) < 4:
        raise DecodeError(f"response header needs 4 bytes, frame has {len(frame)}")
    value: int = _INT32.unpack_from(frame)[0]
    return value


def encode_request_header(
    api_key: int, api_version: int, correlation_id: int, client_id: str | None
) -> bytes:
    """A request header (v1 or v2 by the API version's flexibility), with an empty tagged section."""
    if api_key not in _FIRST_FLEXIBLE:
        raise LocalProtocolError(f"api key {api_key} has no versions in Kafka 4.4")
    raw = None if client_id is None else client_id.encode()
    if raw is not None and len(raw) > 0x7FFF:
        raise LocalProtocolError(f"client_id of {len(raw)} bytes does not fit an int16 length")
    try:
        fixed = _REQUEST_FIXED.pack(api_key, api_version, correlation_id, -1 if raw is None else len(raw))
    except struct.error as exc:
        raise LocalProtocolError(f"request header field out of range: {exc}") from None
    tags = _EMPTY_TAGS if api_version >= _FIRST_FLEXIBLE[api_key] else b""
    return b"".join((fixed, raw or b"", tags))


def _response_is_flexible(api_key: int, api_version: int) -> bool:
    if api_key == ApiKey.API_VERSIONS:
        return False
    return api_version >= _first_flexible(api_key, api_version)


def encode_response_header(api_key: int, api_version: int, correlation_id: int) -> bytes:
    """A response header (v0, or v1 with an empty tagged section), for the request's api key/version."""
    try:
        flexible = _response_is_flexible(api_key, api_version)
        return _INT32.pack(correlation_id) + (_EMPTY_TAGS if flexible else b"")
    except struct.error as exc:
        raise LocalProtocolError(f"correlation id out of range: {exc}") from None
    except UnsupportedVersion as exc:
        raise LocalProtocolError(str(exc)) from None


def response_header_length(api_key: int, api_version: int, frame: Buffer) -> int:
    """Where the response body starts: 4, or past the tagged section of a v1 header."""
    if len(frame) < 4:
        raise DecodeError(f"response header needs 4 bytes, frame has {len(frame)}")
    if _response_is_flexible(api_key, api_version):
        return skip_tagged_fields(frame, 4)
    return 4


def read_uvarint(data: Buffer, pos: int) -> tuple[int, int]:
    """An unsigned varint at `pos` (at most 5 bytes, as Kafka writes them): (value, next position)."""
    value = 0
    end = min(pos + 5, len(data))
    for i in range(pos, end):
        byte = data[i]
        value |= (byte & 0x7F) << (7 * (i - pos))
        if byte < 0x80:
            return value, i + 1
    if end - pos == 5:
        raise DecodeError(f"unsigned varint at offset {pos} is longer than 5 bytes")
    raise DecodeError(f"unsigned varint at offset {pos} runs past the end ({len(data)} bytes)")


def skip_tagged_fields(data: Buffer, pos: int) -> int:
    """Skip a KIP-482 tagged-field section (count, then tag, size, bytes each); returns the end."""
    if pos < len(data) and data[pos] == 0:  # the usual case: no tagged fields
        return pos + 1
    count, pos = read_uvarint(data, pos)
    for _ in range(count):  # each field takes >= 2 bytes, so a huge count fails fast on truncation
        _tag, pos = read_uvarint(data, pos)
        size, pos = read_uvarint(data, pos)
        pos += size
        if pos > len(data):
            raise DecodeError(f"tagged field of {size} bytes runs past the end ({len(data)} bytes)")
    return pos
