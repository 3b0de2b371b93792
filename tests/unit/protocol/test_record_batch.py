"""Record batch v2 headers, checked against batches built and read by kafka-python."""

from __future__ import annotations

import struct

import pytest
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from protocol.errors import DecodeError, LocalProtocolError, UnsupportedVersion
from protocol.record_batch import (
    HEADER_SIZE,
    RecordBatchHeader,
    crc32c,
    iter_batches,
    read_batch_header,
    rewrite_producer,
    set_partition_leader_epoch,
    verify_crc,
)

GZIP = 1


def build_batch(
    producer_id: int = 4001,
    producer_epoch: int = 3,
    base_sequence: int = 17,
    transactional: bool = False,
    compression: int = 0,
    records: int = 3,
) -> bytearray:
    """A real v2 batch from kafka-python's producer-side builder."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=transactional,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=1 << 20,
    )
    for i in range(records):
        builder.append(
            i, timestamp=1_700_000_000_000 + i, key=b"key-%d" % i, value=b"v" * (10 * i), headers=[]
        )
    return bytearray(builder.build())


def test_header_matches_kafka_python_reader() -> None:
    batch = build_batch(transactional=True)
    header = read_batch_header(batch)
    reader = DefaultRecordBatch(bytes(batch))
    assert header.magic == 2 and header.size == len(batch) == reader.size_in_bytes
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (4001, 3, 17)
    assert (header.base_offset, header.partition_leader_epoch) == (reader.base_offset, reader.leader_epoch)
    assert (header.crc, header.attributes) == (reader.crc, reader.attributes)
    assert (header.last_offset_delta, header.records_count) == (reader.last_offset_delta, 3)
    assert (header.base_timestamp, header.max_timestamp) == (1_700_000_000_000, 1_700_000_000_002)
    assert header.is_transactional and not header.is_control


@pytest.mark.parametrize("compression", [0, GZIP])
def test_crc_of_a_real_batch_verifies(compression: int) -> None:
    batch = build_batch(compression=compression, records=20)
    assert read_batch_header(batch).compression == compression
    assert verify_crc(batch)
    batch[-1] ^= 0x01
    assert not verify_crc(batch)


def test_crc32c_standard_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(memoryview(b"")) == 0


def test_rewrite_producer_keeps_the_batch_valid_for_kafka_python() -> None:
    batch = build_batch(producer_id=4001, producer_epoch=3)
    rewrite_producer(batch, 0, 987_654_321_000, 12)
    reader = DefaultRecordBatch(bytes(batch))
    assert reader.validate_crc()
    assert (reader.producer_id, reader.producer_epoch, reader.base_sequence) == (987_654_321_000, 12, 17)
    assert [r.value for r in reader] == [b"", b"v" * 10, b"v" * 20]


def test_rewrite_producer_at_an_offset_inside_a_writable_view() -> None:
    blob = bytearray(build_batch() + build_batch(producer_id=5000))
    second = len(blob) // 2
    rewrite_producer(memoryview(blob), second, -1, -1)
    headers = [h for _, h in iter_batches(blob)]
    assert [(h.producer_id, h.producer_epoch) for h in headers] == [(4001, 3), (-1, -1)]
    assert verify_crc(blob, 0) and verify_crc(blob, second)


def test_partition_leader_epoch_is_outside_the_crc() -> None:
    batch = build_batch()
    crc_before = read_batch_header(batch).crc
    set_partition_leader_epoch(batch, 0, 77)
    assert read_batch_header(batch).partition_leader_epoch == 77
    assert read_batch_header(batch).crc == crc_before and verify_crc(batch)
    assert DefaultRecordBatch(bytes(batch)).leader_epoch == 77


def test_iter_batches_gives_offsets_and_stops_at_a_trailing_partial_batch() -> None:
    first, second, third = build_batch(records=1), build_batch(records=5), build_batch(records=2)
    blob = memoryview(bytes(first + second + third[:-1]))
    found = list(iter_batches(blob))
    assert [offset for offset, _ in found] == [0, len(first)]
    assert [h.records_count for _, h in found] == [1, 5]
    assert list(iter_batches(bytes(first)[:11])) == []  # not even a length yet


def test_control_bit_is_read() -> None:
    batch = build_batch(transactional=True)
    struct.pack_into(">h", batch, 21, read_batch_header(batch).attributes | 0x20)
    assert read_batch_header(batch).is_control


def test_legacy_magic_is_unsupported() -> None:
    batch = build_batch()
    batch[16] = 1
    with pytest.raises(UnsupportedVersion):
        read_batch_header(batch)
    with pytest.raises(UnsupportedVersion):
        list(iter_batches(batch))


@pytest.mark.parametrize("length", [-1, 0, HEADER_SIZE - 13])
def test_impossible_batch_length_is_a_decode_error(length: int) -> None:
    batch = build_batch()
    struct.pack_into(">i", batch, 8, length)
    with pytest.raises(DecodeError):
        list(iter_batches(batch))
    with pytest.raises(DecodeError):
        verify_crc(batch)


def test_truncated_batch_is_a_decode_error_for_direct_reads() -> None:
    batch = build_batch()
    for cut in (0, 12, HEADER_SIZE - 1, HEADER_SIZE, len(batch) - 1):
        with pytest.raises(DecodeError):
            read_batch_header(batch[:cut])
        with pytest.raises(DecodeError):
            rewrite_producer(batch[:cut], 0, 1, 1)


def test_patching_a_read_only_buffer_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        rewrite_producer(memoryview(bytes(build_batch())), 0, 1, 1)
    with pytest.raises(LocalProtocolError):
        set_partition_leader_epoch(memoryview(bytes(build_batch())), 0, 1)


def test_header_is_immutable() -> None:
    header = read_batch_header(build_batch())
    assert isinstance(header, RecordBatchHeader)
    with pytest.raises(AttributeError):
        header.producer_id = 1  # type: ignore[misc]
