"""Unsigned varints: what decodes must encode again (a 5-byte varint can carry 35 bits, Kafka's 32)."""

from __future__ import annotations

import pytest

from protocol.errors import DecodeError
from protocol.primitives import encode_uvarint
from protocol.schema import Field, MessageSpec, decode, encode

SPEC = MessageSpec(name="Tagged", api_key=-1, valid="0", flexible="0+", fields=(Field("Id", "int8"),))


def test_the_largest_32_bit_unknown_tag_round_trips() -> None:
    data = b"\x01" + b"\x01" + encode_uvarint(0xFFFFFFFF) + b"\x00"
    assert encode(SPEC, 0, decode(SPEC, 0, data)) == data


def test_a_tag_beyond_32_bits_is_a_decode_error_not_a_later_encode_error() -> None:
    beyond = b"\x80\x80\x80\x80\x10"  # 2**32 in five bytes
    with pytest.raises(DecodeError, match="beyond 32 bits"):
        decode(SPEC, 0, b"\x01" + b"\x01" + beyond + b"\x00")
