"""Request and response headers: every API version a 4.4 broker knows, tagged sections, truncation."""

from __future__ import annotations

import struct

import pytest

from protocol.api_keys import API_TABLE, ApiKey
from protocol.errors import DecodeError, LocalProtocolError, UnsupportedVersion
from protocol.headers import (
    RequestHeader,
    encode_request_header,
    encode_response_header,
    peek_correlation_id,
    peek_request_header,
    peek_response_correlation_id,
    response_header_length,
)

CLIENT_IDS = [None, "", "console-producer", "rdkafka-0a1b2c", "ünïcødé-client", "x" * 300]

API_VERSIONS = [
    (key, version, CLIENT_IDS[i % len(CLIENT_IDS)])
    for i, (key, version) in enumerate(
        (key, version)
        for key, info in sorted(API_TABLE.items())
        for version in range(info.min_version, (info.unstable_version or info.max_version) + 1)
    )
]


def fixed_part(key: int, version: int, correlation_id: int, client_id: bytes | None) -> bytes:
    """The v1 header written out by hand: the reference the codec is compared with."""
    length = -1 if client_id is None else len(client_id)
    return struct.pack(">hhih", key, version, correlation_id, length) + (client_id or b"")


@pytest.mark.parametrize(("key", "version", "client_id"), API_VERSIONS)
def test_encode_then_peek_gives_the_same_header(key: int, version: int, client_id: str | None) -> None:
    encoded = encode_request_header(key, version, 0x01020304 + version, client_id)
    frame = memoryview(bytearray(encoded + b"body bytes"))
    header = peek_request_header(frame)
    assert header == RequestHeader(key, version, 0x01020304 + version, client_id, len(encoded))
    assert bytes(frame[header.header_length :]) == b"body bytes"
    assert peek_correlation_id(frame) == 0x01020304 + version


@pytest.mark.parametrize(("key", "version", "client_id"), API_VERSIONS)
def test_flexible_versions_add_an_empty_tagged_section(key: int, version: int, client_id: str | None) -> None:
    raw = None if client_id is None else client_id.encode()
    flexible = API_TABLE[key].is_flexible(version)
    expected = fixed_part(key, version, 9, raw) + (b"\x00" if flexible else b"")
    assert encode_request_header(key, version, 9, client_id) == expected


def test_tagged_fields_in_a_v2_header_are_skipped() -> None:
    tags = b"\x03" + b"\x00\x02ab" + b"\x05\x00" + b"\x81\x01\x81\x01" + bytes(129)  # tag 129, 129 bytes
    head = fixed_part(ApiKey.METADATA, 12, 42, b"app") + tags
    header = peek_request_header(head + b"BODY")
    assert header == RequestHeader(ApiKey.METADATA, 12, 42, "app", len(head))


def test_client_id_is_never_compact_even_in_v2() -> None:
    head = fixed_part(ApiKey.API_VERSIONS, 3, 1, b"c" * 200) + b"\x00"
    assert peek_request_header(head).header_length == 10 + 200 + 1


def test_null_client_id_and_invalid_utf8_client_id() -> None:
    assert peek_request_header(fixed_part(ApiKey.METADATA, 8, 1, None)).client_id is None
    assert peek_request_header(fixed_part(ApiKey.METADATA, 8, 1, b"a\xffb")).client_id == "a\ufffdb"


@pytest.mark.parametrize(
    "frame",
    [
        fixed_part(ApiKey.METADATA, 8, 7, b"client"),  # v1
        fixed_part(ApiKey.METADATA, 12, 7, b"client") + b"\x01\x00\x03abc",  # v2 with a tag
        fixed_part(ApiKey.PRODUCE, 11, 7, None) + b"\x00",  # v2, null client id
    ],
)
def test_every_truncation_is_a_decode_error(frame: bytes) -> None:
    assert peek_request_header(frame).header_length == len(frame)
    for cut in range(len(frame)):
        with pytest.raises(DecodeError):
            peek_request_header(frame[:cut])


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">hhih", 3, 12, 1, -2),  # client id length below -1
        fixed_part(3, 12, 1, b"c") + b"\xff\xff\xff\xff\xff\x01",  # varint longer than 5 bytes
        fixed_part(3, 12, 1, b"c") + b"\x01\x00\x7f" + bytes(5),  # tag longer than the frame
        fixed_part(3, 12, 1, b"c") + b"\xff\xff\xff\xff\x0f",  # 2^32 - 1 tags, no bytes for them
    ],
)
def test_garbage_is_a_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        peek_request_header(frame)


@pytest.mark.parametrize("key", [4, 7, 95, -1])
def test_api_key_without_versions_is_unsupported(key: int) -> None:
    with pytest.raises(UnsupportedVersion):
        peek_request_header(fixed_part(key, 0, 1, None))
    with pytest.raises(LocalProtocolError):
        encode_request_header(key, 0, 1, None)


@pytest.mark.parametrize(
    ("key", "version", "correlation_id", "client_id"),
    [(3, 12, 1 << 31, None), (3, 1 << 15, 1, None), (3, 12, 1, "x" * 0x8000)],
)
def test_encoding_out_of_range_values_is_a_local_error(
    key: int, version: int, correlation_id: int, client_id: str | None
) -> None:
    with pytest.raises(LocalProtocolError):
        encode_request_header(key, version, correlation_id, client_id)


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        (ApiKey.METADATA, 8, b"\x00\x00\x00\x2a"),
        (ApiKey.METADATA, 9, b"\x00\x00\x00\x2a\x00"),
        (ApiKey.API_VERSIONS, 3, b"\x00\x00\x00\x2a"),  # KIP-511: always v0
        (ApiKey.API_VERSIONS, 5, b"\x00\x00\x00\x2a"),
        (ApiKey.SASL_HANDSHAKE, 1, b"\x00\x00\x00\x2a"),
        (ApiKey.DESCRIBE_CLUSTER, 0, b"\x00\x00\x00\x2a\x00"),
    ],
)
def test_response_header_by_api_flexibility(key: int, version: int, expected: bytes) -> None:
    assert encode_response_header(key, version, 42) == expected
    assert response_header_length(key, version, expected + b"body") == len(expected)
    assert peek_response_correlation_id(expected) == 42


def test_response_header_tagged_fields_are_skipped() -> None:
    frame = b"\x00\x00\x00\x07" + b"\x02\x00\x01z\x01\x00" + b"body"
    assert response_header_length(ApiKey.FETCH, 16, frame) == 10


@pytest.mark.parametrize("frame", [b"", b"\x00\x00\x00", b"\x00\x00\x00\x07", b"\x00\x00\x00\x07\x01\x00"])
def test_truncated_response_headers_are_decode_errors(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        response_header_length(ApiKey.FETCH, 16, frame)
    if len(frame) < 4:
        with pytest.raises(DecodeError):
            peek_response_correlation_id(frame)
        with pytest.raises(DecodeError):
            peek_correlation_id(frame + b"\x00\x00\x00")
