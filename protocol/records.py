"""The records inside a v2 batch: offsets, keys, values, and what control records say.

The proxy reads records itself only to prove a switch safe: MirrorMaker 2's offset syncs and source
offsets, and the commit/abort markers that tell committed data from aborted data at a partition's
tail. Those topics are written uncompressed by Kafka Connect, and markers are never compressed;
gzip batches are read too (zlib is in the standard library), other codecs raise
`UnsupportedVersion` so callers can report "cannot verify" instead of guessing.

Record layout (varints are zig-zag signed): length, attributes int8, timestampDelta varlong,
offsetDelta varint, keyLength varint, key, valueLength varint, value, header count varint, headers.
A control record's key is `version int16, type int16` with type 0 = ABORT, 1 = COMMIT.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from protocol.errors import DecodeError, UnsupportedVersion
from protocol.record_batch import HEADER_SIZE, Buffer, RecordBatchHeader, iter_batches

CONTROL_ABORT = 0
CONTROL_COMMIT = 1
_GZIP = 1
_CONTROL_KEY = struct.Struct(">hh")


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None


def _varint(buf: Buffer, pos: int) -> tuple[int, int]:
    """A zig-zag signed varint (up to 10 bytes) at `pos`; returns (value, next position)."""
    raw = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint in a record")
        byte = buf[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 10 bytes in a record")


def _blob(buf: Buffer, pos: int) -> tuple[bytes | None, int]:
    length, pos = _varint(buf, pos)
    if length < 0:
        return None, pos
    if pos + length > len(buf):
        raise DecodeError("record field runs past the batch")
    return bytes(buf[pos:pos + length]), pos + length


def _records_bytes(records: Buffer, offset: int, header: RecordBatchHeader) -> Buffer:
    body = memoryview(records)[offset + HEADER_SIZE:offset + header.size]
    if header.compression == 0:
        return body
    if header.compression == _GZIP:
        try:
            return zlib.decompress(bytes(body), wbits=31)
        except zlib.error as exc:
            raise DecodeError(f"bad gzip batch: {exc}") from exc
    raise UnsupportedVersion("record compression codec", header.compression)


def iter_records(records: Buffer) -> Iterator[tuple[RecordBatchHeader, Record]]:
    """Every record of every whole batch in a records blob, with its batch header."""
    for offset, header in iter_batches(records):
        body = _records_bytes(records, offset, header)
        pos = 0
        for _ in range(header.records_count):
            length, pos = _varint(body, pos)
            end = pos + length
            if length < 0 or end > len(body):
                raise DecodeError("record length runs past the batch")
            pos += 1  # attributes
            _timestamp_delta, pos = _varint(body, pos)
            offset_delta, pos = _varint(body, pos)
            key, pos = _blob(body, pos)
            value, pos = _blob(body, pos)
            yield header, Record(header.base_offset + offset_delta, key, value)
            pos = end


def control_type(record: Record) -> int:
    """ABORT (0) or COMMIT (1) for a record of a control batch."""
    if record.key is None or len(record.key) < 4:
        raise DecodeError("control record without a valid key")
    _version, kind = _CONTROL_KEY.unpack_from(record.key)
    return int(kind)
