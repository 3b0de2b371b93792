"""Records of every codec: what producers write comes back whole, and broken bodies are DecodeErrors."""

from __future__ import annotations

import struct

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch

from protocol.compression import GZIP, LZ4, MAX_DECOMPRESSED, SNAPPY, XERIAL_MAGIC, ZSTD, decompress
from protocol.errors import DecodeError, UnsupportedVersion
from protocol.records import Record, iter_records
from tests.unit.protocol.batch_builder import CODECS, build, compressed_records, wrap, xerial_snappy
from tests.unit.protocol.test_fuzz_low_level import fuzz, mutated

T0 = 1_700_000_000_000
RECORDS = (
    Record(100, b"key-0", b"value-0", T0, ()),
    Record(101, None, b"no key", T0 + 5, (("trace", b"abc"), ("empty", b""), ("gone", None))),
    Record(102, b"tombstone", None, T0 - 3, (("\u00e9t\u00e9", b"\x00\xff"),)),  # a delta below the base
    Record(104, b"k" * 300, b"v" * 5000, T0 + 86_400_000, tuple((f"h{i}", b"x" * i) for i in range(20))),
)


@pytest.mark.parametrize("codec", CODECS)
def test_every_codec_gives_back_offsets_timestamps_keys_values_and_headers(codec: str) -> None:
    batch = build(codec, RECORDS)
    found = list(iter_records(batch))
    assert [record for _, record in found] == list(RECORDS)
    assert {header.compression for header, _ in found} == {CODECS[codec][0]}


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_builder_agrees_with_kafka_python_reader(codec: str) -> None:
    reader = DefaultRecordBatch(build(codec, RECORDS))
    assert reader.validate_crc()
    assert [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]) for r in reader] == [
        (r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in RECORDS]


def test_log_append_time_stamps_every_record_with_the_batch_max_timestamp() -> None:
    batch = build("zstd", RECORDS, log_append_time=T0 + 999)
    records = [record for _, record in iter_records(batch)]
    assert [r.timestamp for r in records] == [T0 + 999] * len(RECORDS)
    assert [r.headers for r in records] == [r.headers for r in RECORDS]


def test_content_of_a_copy_matches_whatever_its_offset_and_codec() -> None:
    copies = [Record(r.offset + 7000, r.key, r.value, r.timestamp, r.headers) for r in RECORDS]
    original = [r.content() for _, r in iter_records(build("snappy-xerial", RECORDS))]
    copied = [r.content() for _, r in iter_records(build("lz4", copies))]
    assert copied == original
    assert original[1] == (T0 + 5, None, b"no key", (("trace", b"abc"), ("empty", b""), ("gone", None)))


def test_batches_of_mixed_codecs_in_one_blob_and_a_partial_one_at_the_end() -> None:
    blob = b"".join(build(codec, RECORDS) for codec in CODECS)
    records = [record for _, record in iter_records(blob + build("zstd", RECORDS)[:-1])]
    assert records == list(RECORDS) * len(CODECS)


def test_xerial_snappy_of_many_blocks() -> None:
    big = tuple(Record(i, b"%d" % i, bytes([i % 251]) * 1000, T0 + i, ()) for i in range(200))
    batch = build("snappy-xerial", big)
    assert batch.count(XERIAL_MAGIC) == 1 and len(batch) < 200 * 1000 // 4
    assert [record for _, record in iter_records(batch)] == list(big)


@pytest.mark.parametrize("codec", ["lz4", "zstd", "gzip"])
def test_a_batch_far_more_compressible_than_the_first_guess(codec: str) -> None:
    zeros = tuple(Record(i, None, bytes(100_000), T0, ()) for i in range(20))
    batch = build(codec, zeros)
    assert len(batch) * 8 < 2_000_000
    assert [record for _, record in iter_records(batch)] == list(zeros)


@pytest.mark.parametrize("codec_id", [5, 6, 7])
def test_unknown_codec_ids_are_unsupported(codec_id: int) -> None:
    batch = wrap(compressed_records("zstd", RECORDS), codec_id, RECORDS)
    with pytest.raises(UnsupportedVersion):
        list(iter_records(batch))


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD])
def test_output_beyond_the_limit_is_refused(codec: int) -> None:
    name = {GZIP: "gzip", SNAPPY: "snappy-raw", LZ4: "lz4", ZSTD: "zstd"}[codec]
    body = CODECS[name][1](bytes(10_001))
    assert len(decompress(codec, body, limit=10_001)) == 10_001
    with pytest.raises(DecodeError):
        decompress(codec, body, limit=10_000)


def test_a_zstd_bomb_is_refused_at_64_mib() -> None:
    bomb = bytes(cramjam.zstd.compress(bytes(MAX_DECOMPRESSED + 1)))
    with pytest.raises(DecodeError, match="zstd"):
        list(iter_records(wrap(bomb, ZSTD, RECORDS)))


def test_snappy_claiming_a_huge_length_is_refused_before_inflating() -> None:
    claims_1_gib = b"\x80\x80\x80\x80\x04" + b"\x00" * 16
    with pytest.raises(DecodeError, match="limit"):
        decompress(SNAPPY, claims_1_gib)
    with pytest.raises(DecodeError, match="limit"):
        decompress(SNAPPY, xerial_snappy(b"") + struct.pack(">i", len(claims_1_gib)) + claims_1_gib)


def test_gzip_members_back_to_back_are_read_in_turn() -> None:
    two = bytes(cramjam.gzip.compress(b"first ")) + bytes(cramjam.gzip.compress(b"second"))
    assert bytes(decompress(GZIP, two)) == b"first second"
    with pytest.raises(DecodeError):
        decompress(GZIP, two + b"\x00garbage")


@pytest.mark.parametrize("codec", CODECS)
def test_every_truncation_of_a_compressed_body_is_a_decode_error(codec: str) -> None:
    body = compressed_records(codec, RECORDS)
    attributes = CODECS[codec][0]
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            list(iter_records(wrap(body[:cut], attributes, RECORDS)))


def test_a_batch_claiming_more_records_than_it_holds_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        list(iter_records(wrap(compressed_records("lz4", RECORDS), LZ4, RECORDS, count=len(RECORDS) + 1)))


@fuzz(1500)
@given(st.sampled_from(sorted(CODECS)).flatmap(
    lambda codec: st.tuples(st.just(codec), mutated(compressed_records(codec, RECORDS)))))
def test_mutated_compressed_bodies_raise_only_decode_error(case: tuple[str, bytes]) -> None:
    codec, body = case
    try:
        records = [record for _, record in iter_records(wrap(body, CODECS[codec][0], RECORDS))]
    except DecodeError:
        return
    assert len(records) == len(RECORDS)
