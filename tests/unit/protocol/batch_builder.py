"""Build v2 record batches of any codec, the way producers write them, for tests of the readers.

kafka-python's builder needs an extra package per codec and cannot write raw (librdkafka-style)
snappy, so the tests build batches themselves: encode the records, compress them with cramjam
(snappy in xerial's framing, as the Java client writes it, or raw), and wrap them in a header with
a real CRC-32C. `test_records_codecs` checks the uncompressed and gzip output against kafka-python's
reader, so the builder is not only checked by the code it tests.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import cramjam

from protocol.compression import GZIP, LZ4, NONE, SNAPPY, XERIAL_MAGIC, ZSTD
from protocol.record_batch import LOG_OVERHEAD, crc32c
from protocol.records import Record

LOG_APPEND_TIME = 0x08
XERIAL_BLOCK = 32 << 10  # snappy-java's default block size
_HEADER_AFTER_CRC = struct.Struct(">hiqqqhii")
_HEADER_BEFORE_CRC = struct.Struct(">qiib")


def varint(value: int) -> bytes:
    """Zig-zag signed varint, as in the record format."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append(zigzag & 0x7F | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def blob(data: bytes | None) -> bytes:
    return varint(-1) if data is None else varint(len(data)) + data


def encode_record(record: Record, base_offset: int, base_timestamp: int) -> bytes:
    body = b"".join([
        b"\x00", varint(record.timestamp - base_timestamp), varint(record.offset - base_offset),
        blob(record.key), blob(record.value), varint(len(record.headers)),
        *(blob(name.encode()) + blob(value) for name, value in record.headers),
    ])
    return varint(len(body)) + body


def xerial_snappy(data: bytes, block: int = XERIAL_BLOCK) -> bytes:
    """snappy-java's SnappyOutputStream framing: magic, two int32 versions, length-prefixed raw blocks."""
    out = bytearray(XERIAL_MAGIC + struct.pack(">ii", 1, 1))
    for start in range(0, len(data), block):
        raw = bytes(cramjam.snappy.compress_raw(data[start:start + block]))
        out += struct.pack(">i", len(raw)) + raw
    return bytes(out)


CODECS = {
    "none": (NONE, bytes),
    "gzip": (GZIP, lambda data: bytes(cramjam.gzip.compress(data))),
    "snappy-xerial": (SNAPPY, xerial_snappy),
    "snappy-raw": (SNAPPY, lambda data: bytes(cramjam.snappy.compress_raw(data))),
    "lz4": (LZ4, lambda data: bytes(cramjam.lz4.compress(data))),
    "zstd": (ZSTD, lambda data: bytes(cramjam.zstd.compress(data))),
}


def compressed_records(codec: str, records: Sequence[Record]) -> bytes:
    """The records section of a batch of `records` (base offset and timestamp from the first)."""
    encoded = b"".join(encode_record(r, records[0].offset, records[0].timestamp) for r in records)
    return CODECS[codec][1](encoded)


def wrap(payload: bytes, attributes: int, records: Sequence[Record], max_timestamp: int | None = None,
         count: int | None = None) -> bytes:
    """A v2 batch around a records section; `count` may lie about how many records it holds."""
    last_offset_delta = records[-1].offset - records[0].offset
    if max_timestamp is None:
        max_timestamp = max(r.timestamp for r in records)
    after_crc = _HEADER_AFTER_CRC.pack(attributes, last_offset_delta, records[0].timestamp, max_timestamp,
                                       4001, 0, 0, len(records) if count is None else count) + payload
    batch_length = _HEADER_BEFORE_CRC.size - LOG_OVERHEAD + 4 + len(after_crc)
    before_crc = _HEADER_BEFORE_CRC.pack(records[0].offset, batch_length, 0, 2)
    return before_crc + struct.pack(">I", crc32c(after_crc)) + after_crc


def build(codec: str, records: Sequence[Record], log_append_time: int | None = None) -> bytes:
    """A whole batch of `records` compressed with `codec`, optionally stamped LogAppendTime."""
    attributes = CODECS[codec][0] | (LOG_APPEND_TIME if log_append_time is not None else 0)
    return wrap(compressed_records(codec, records), attributes, records, log_append_time)
