"""The records inside a v2 batch: offsets, timestamps, keys, values, headers, and control markers.

The proxy reads records itself only to prove a switch safe: MirrorMaker 2's offset syncs and source
offsets, the commit/abort markers that tell committed data from aborted data at a partition's tail,
and the records themselves when the same data is compared on two clusters. A record copied to
another cluster keeps its timestamp, key, value and headers but gets a new offset, and may land in
a batch of another codec, so `Record.content()` is what two copies must agree on. Batches of every
codec are read (`protocol.compression`); an unknown codec id raises `UnsupportedVersion` so callers
can report "cannot verify" instead of guessing.

Record layout (varints are zig-zag signed): length, attributes int8, timestampDelta varlong,
offsetDelta varint, keyLength varint, key, valueLength varint, value, header count varint, then per
header keyLength varint, key (UTF-8, never null), valueLength varint, value (null when the length
is -1). A record's timestamp is the batch's base timestamp plus its delta, except in a batch whose
timestamp type is LogAppendTime: the broker then stamps only the batch's max timestamp, without
touching the (possibly compressed) records, and that one time applies to every record.
A control record's key is `version int16, type int16` with type 0 = ABORT, 1 = COMMIT.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from protocol.compression import decompress
from protocol.errors import DecodeError
from protocol.record_batch import HEADER_SIZE, Buffer, RecordBatchHeader, iter_batches

CONTROL_ABORT = 0
CONTROL_COMMIT = 1
_CONTROL_KEY = struct.Struct(">hh")

RecordHeaders = tuple[tuple[str, bytes | None], ...]
RecordContent = tuple[int, bytes | None, bytes | None, RecordHeaders]


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: RecordHeaders

    def content(self) -> RecordContent:
        """(timestamp, key, value, headers): what a copy of this record on another cluster keeps."""
        return self.timestamp, self.key, self.value, self.headers


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


def _headers(buf: Buffer, pos: int) -> tuple[RecordHeaders, int]:
    count, pos = _varint(buf, pos)
    if count < 0:
        raise DecodeError(f"record claims {count} headers")
    headers = []
    for _ in range(count):
        name, pos = _blob(buf, pos)
        if name is None:
            raise DecodeError("record header without a key")
        value, pos = _blob(buf, pos)
        try:
            headers.append((name.decode(), value))
        except UnicodeDecodeError as exc:
            raise DecodeError(f"record header key is not UTF-8: {exc}") from exc
    return tuple(headers), pos


def _records_bytes(records: Buffer, offset: int, header: RecordBatchHeader) -> Buffer:
    body = memoryview(records)[offset + HEADER_SIZE:offset + header.size]
    return decompress(header.compression, body)


def _record(body: memoryview, pos: int, header: RecordBatchHeader) -> Record:
    """The record from its attributes byte at `pos` to the end of `body`, which must hold it exactly."""
    timestamp_delta, pos = _varint(body, pos + 1)
    offset_delta, pos = _varint(body, pos)
    key, pos = _blob(body, pos)
    value, pos = _blob(body, pos)
    headers, pos = _headers(body, pos)
    if pos != len(body):
        raise DecodeError(f"record fields end {len(body) - pos} bytes before the record's length")
    timestamp = header.max_timestamp if header.is_log_append_time else header.base_timestamp + timestamp_delta
    return Record(header.base_offset + offset_delta, key, value, timestamp, headers)


def iter_records(records: Buffer) -> Iterator[tuple[RecordBatchHeader, Record]]:
    """Every record of every whole batch in a records blob, with its batch header."""
    for offset, header in iter_batches(records):
        body = memoryview(_records_bytes(records, offset, header))
        pos = 0
        for _ in range(header.records_count):
            length, pos = _varint(body, pos)
            end = pos + length
            if length < 0 or end > len(body):
                raise DecodeError("record length runs past the batch")
            yield header, _record(body[:end], pos, header)
            pos = end


def control_type(record: Record) -> int:
    """ABORT (0) or COMMIT (1) for a record of a control batch."""
    if record.key is None or len(record.key) < 4:
        raise DecodeError("control record without a valid key")
    _version, kind = _CONTROL_KEY.unpack_from(record.key)
    return int(kind)
