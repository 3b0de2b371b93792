"""Nullable structs (KIP-893) and `default=NULL`: two schema features the message specs rely on."""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec, decode, encode, new

CURSOR = Field("Cursor", "Cursor", "0+", nullable="0+", default=NULL, fields=(Field("Name", "string"),))
SPEC = MessageSpec(
    name="CursorHolder",
    api_key=-1,
    valid="0-1",
    flexible="1+",
    fields=(
        Field("Limit", "int32"),
        CURSOR,
        Field("Always", "Always", "0+", fields=(Field("Id", "int8"),)),
        Field("Names", "[]string", "0+", nullable="0+", default=NULL),
        Field("Rack", "string", "0+", nullable="0+", default=NULL),
    ),
)


def test_a_null_struct_is_a_single_minus_one_marker() -> None:
    message = new(SPEC, 0, Limit=7)
    limit, cursor, always, names, rack = b"\x00\x00\x00\x07", b"\xff", b"\x00", b"\xff" * 4, b"\xff" * 2
    assert encode(SPEC, 0, message) == limit + cursor + always + names + rack


def test_a_present_struct_is_marker_one_then_the_struct() -> None:
    message = new(SPEC, 1, Limit=7, Cursor={"Name": "t"}, Names=["a"], Rack="r")
    data = encode(SPEC, 1, message)
    assert data == b"\x00\x00\x00\x07" + b"\x01\x02t\x00" + b"\x00\x00" + b"\x02\x02a" + b"\x02r" + b"\x00"
    assert decode(SPEC, 1, data).Cursor.Name == "t"


def test_any_negative_marker_reads_as_null_like_kafka() -> None:
    assert decode(SPEC, 0, b"\x00\x00\x00\x07\x80\x00\xff\xff\xff\xff\xff\xff").Cursor is None


def test_a_non_nullable_struct_has_no_marker() -> None:
    assert encode(SPEC, 0, new(SPEC, 0, Always={"Id": 5}))[5:6] == b"\x05"


def test_default_null_gives_none_for_structs_arrays_and_strings() -> None:
    message = new(SPEC, 0)
    assert (message.Cursor, message.Names, message.Rack) == (None, None, None)
    assert message.Always == {"Id": 0}
