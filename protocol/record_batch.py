"""The record batch v2 header (magic 2): read it, check its CRC, patch producer ids and leader epochs.

Layout (offsets from the batch start; all big-endian):

    0  base_offset int64          17 crc uint32 (CRC-32C)       43 producer_id int64
    8  batch_length int32         21 attributes int16           51 producer_epoch int16
    12 partition_leader_epoch     23 last_offset_delta int32    53 base_sequence int32
       int32                      27 base_timestamp int64       57 records_count int32
    16 magic int8                 35 max_timestamp int64        61 records...

`batch_length` counts the bytes after itself, so a batch spans 12 + batch_length bytes. The CRC covers
from `attributes` to the end of the batch; `base_offset`, `batch_length` and `partition_leader_epoch`
are outside it so a broker can assign offsets and epochs without recomputing it. Producer ids and
epochs are inside: patching them means recomputing the CRC-32C (the `crc32c` C extension; a 1 MiB
batch costs well under a millisecond).

Fetch responses may end with a partial batch (the broker cuts at the byte limit), so `iter_batches`
stops quietly when the rest is shorter than the next batch claims. Only the v2 format is read here:
Kafka 4 accepts nothing else in Produce, and a v0/v1 batch raises `UnsupportedVersion`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import crc32c as _crc32c

from protocol.errors import DecodeError, LocalProtocolError, UnsupportedVersion

Buffer = bytes | bytearray | memoryview

_HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = _HEADER.size  # 61
LOG_OVERHEAD = 12  # base_offset + batch_length: the bytes not counted by batch_length
_LENGTH = struct.Struct(">i")
_MAGIC_OFFSET = 16
_CRC = struct.Struct(">I")
_CRC_OFFSET = 17
_CRC_START = 21  # attributes: the first byte under the CRC
_LEADER_EPOCH = struct.Struct(">i")
_LEADER_EPOCH_OFFSET = 12
_PRODUCER = struct.Struct(">qh")
_PRODUCER_OFFSET = 43

_COMPRESSION_MASK = 0x07
_TIMESTAMP_TYPE_BIT = 0x08
_TRANSACTIONAL_BIT = 0x10
_CONTROL_BIT = 0x20


@dataclass(frozen=True, slots=True)
class RecordBatchHeader:
    """The 61 header bytes of a v2 record batch, as numbers."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch takes, header included."""
        return LOG_OVERHEAD + self.batch_length

    @property
    def compression(self) -> int:
        """Codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."""
        return self.attributes & _COMPRESSION_MASK

    @property
    def is_log_append_time(self) -> bool:
        return bool(self.attributes & _TIMESTAMP_TYPE_BIT)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL_BIT)


def crc32c(data: Buffer) -> int:
    """CRC-32C (Castagnoli) of `data`, as stored in a batch header."""
    value: int = _crc32c.crc32c(data)
    return value


def _batch_end(buf: Buffer, offset: int) -> int:
    """End of the batch at `offset`, after checking the buffer holds it all and it is v2."""
    if offset < 0 or len(buf) - offset < HEADER_SIZE:
        raise DecodeError(f"record batch header at {offset} needs {HEADER_SIZE} bytes of {len(buf)}")
    magic = buf[offset + _MAGIC_OFFSET]
    if magic != 2:
        raise UnsupportedVersion("record batch magic", magic)
    batch_length: int = _LENGTH.unpack_from(buf, offset + 8)[0]
    end = offset + LOG_OVERHEAD + batch_length
    if batch_length < HEADER_SIZE - LOG_OVERHEAD or end > len(buf):
        raise DecodeError(f"record batch at {offset} claims {batch_length} bytes, buffer has {len(buf)}")
    return end


def read_batch_header(buf: Buffer, offset: int = 0) -> RecordBatchHeader:
    """The header of the complete v2 batch at `offset`; DecodeError if the batch is cut short."""
    _batch_end(buf, offset)
    return RecordBatchHeader(*_HEADER.unpack_from(buf, offset))


def iter_batches(records: Buffer) -> Iterator[tuple[int, RecordBatchHeader]]:
    """(offset, header) of each complete batch in a records blob; a trailing partial batch is skipped."""
    offset = 0
    total = len(records)
    while total - offset >= LOG_OVERHEAD:
        batch_length: int = _LENGTH.unpack_from(records, offset + 8)[0]
        if total - offset > _MAGIC_OFFSET and records[offset + _MAGIC_OFFSET] != 2:
            raise UnsupportedVersion("record batch magic", records[offset + _MAGIC_OFFSET])
        if batch_length < HEADER_SIZE - LOG_OVERHEAD:
            raise DecodeError(f"record batch at {offset} has impossible length {batch_length}")
        if offset + LOG_OVERHEAD + batch_length > total:
            return  # a partial batch at the end, as Fetch may send
        yield offset, RecordBatchHeader(*_HEADER.unpack_from(records, offset))
        offset += LOG_OVERHEAD + batch_length


def verify_crc(batch: Buffer, offset: int = 0) -> bool:
    """Whether the stored CRC matches the batch at `offset` (attributes to the end of the batch)."""
    end = _batch_end(batch, offset)
    stored: int = _CRC.unpack_from(batch, offset + _CRC_OFFSET)[0]
    return stored == crc32c(memoryview(batch)[offset + _CRC_START : end])


def rewrite_producer(
    batch: bytearray | memoryview, offset: int, producer_id: int, producer_epoch: int
) -> None:
    """Patch producer id and epoch of the batch at `offset` in place and recompute its CRC."""
    end = _batch_end(batch, offset)
    _pack_into(_PRODUCER, batch, offset + _PRODUCER_OFFSET, producer_id, producer_epoch)
    crc = crc32c(memoryview(batch)[offset + _CRC_START : end])
    _pack_into(_CRC, batch, offset + _CRC_OFFSET, crc)


def set_partition_leader_epoch(batch: bytearray | memoryview, offset: int, epoch: int) -> None:
    """Patch the partition leader epoch in place; it is outside the CRC, so nothing else changes."""
    _batch_end(batch, offset)
    _pack_into(_LEADER_EPOCH, batch, offset + _LEADER_EPOCH_OFFSET, epoch)


def _pack_into(layout: struct.Struct, buf: bytearray | memoryview, offset: int, *values: int) -> None:
    try:
        layout.pack_into(buf, offset, *values)
    except (struct.error, TypeError) as exc:  # out-of-range value or a read-only buffer: our mistake
        raise LocalProtocolError(f"cannot patch record batch: {exc}") from None
