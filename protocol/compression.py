"""The records section of a v2 batch, inflated: every codec a Kafka producer may choose.

A switch compares the records on two clusters, and MirrorMaker 2 may copy a batch into a codec of its
own choosing, so the proxy must read every codec, not only what Kafka Connect writes. The codec id
sits in the low three bits of the batch attributes (`RecordBatchHeader.compression`); only the
records after the 61-byte header are compressed. What real producers put there:

    1 gzip    one RFC 1952 member (Java's GZIPOutputStream, librdkafka); read with zlib, which can
              stop at a size limit as it goes. Members written back to back are read one after the
              other, as Java's GZIPInputStream does.
    2 snappy  the Java client writes xerial's framing (snappy-java's SnappyOutputStream): the 8-byte
              magic 0x82 "SNAPPY" 0x00, int32 version, int32 compatible version, then blocks of an
              int32 big-endian length and one raw snappy block each. librdkafka may write a single
              raw snappy block with no framing at all. The framing is not a codec, so it is parsed
              here and each block goes to cramjam's raw snappy; anything without the magic is one
              raw block.
    3 lz4     the standard LZ4 frame format (magic 2 batches write a correct header checksum, unlike
              magic 0), read by cramjam's frame decoder.
    4 zstd    standard zstd frames, read by cramjam.

Why a size cap: a batch is small on the wire but may inflate to anything (zstd turns a GiB of zeros
into about 30 KiB), and the bytes come from a broker we do not control. Nothing inflates beyond
`MAX_DECOMPRESSED` (64 MiB, well above Kafka's default 1 MiB `max.message.bytes`): snappy states each
block's length up front, so the total is checked before anything is allocated; zlib stops at
`max_length`; lz4 and zstd state no reliable length, so they decode into a fixed buffer that cannot
grow, retried four times larger while it is under the cap. A first guess of 8x the compressed size
fits most real batches in one pass. Only a full buffer is worth a retry: cramjam reports it with
Rust's `WriteZero` message, "failed to write whole buffer", and any other failure (a corrupt or cut
body) is final at once, so broken input costs one pass, not six growing ones. Should a cramjam
release word it otherwise, batches beyond the first guess would fail loudly, never silently, and
`test_a_batch_far_more_compressible_than_the_first_guess` says so.

Every failure is a `DecodeError` naming the codec; an unknown codec id is `UnsupportedVersion`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

import cramjam

from protocol.errors import DecodeError, UnsupportedVersion
from protocol.record_batch import Buffer

NONE, GZIP, SNAPPY, LZ4, ZSTD = range(5)
MAX_DECOMPRESSED = 64 << 20

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_VERSIONS = struct.Struct(">ii")  # version, compatible version: read past, as snappy-java does
_XERIAL_HEADER_SIZE = len(XERIAL_MAGIC) + _XERIAL_VERSIONS.size
_XERIAL_BLOCK_LENGTH = struct.Struct(">i")

_FIRST_GUESS_RATIO = 8
_SMALLEST_GUESS = 64 << 10
_GROWTH = 4
_BUFFER_FULL = "failed to write whole buffer"

DecodeInto = Callable[[bytes, bytearray], int]


def decompress(codec: int, body: Buffer, limit: int = MAX_DECOMPRESSED) -> Buffer:
    """The records of a batch compressed with `codec`, refused if they inflate beyond `limit` bytes."""
    if codec == NONE:
        return body
    reader = _READERS.get(codec)
    if reader is None:
        raise UnsupportedVersion("record compression codec", codec)
    return reader(bytes(body), limit)


def _gunzip(data: bytes, limit: int) -> Buffer:
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:  # max_length is at least 1 here: 0 would mean "no limit" to zlib
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise DecodeError(f"bad gzip batch: {exc}") from exc
        _check_size("gzip", len(out), limit)
        if not inflater.eof:
            raise DecodeError("bad gzip batch: the stream ends before its trailer")
        data = inflater.unused_data
        if not data:
            return out


def _unsnappy(data: bytes, limit: int) -> Buffer:
    blocks = list(_xerial_blocks(data)) if data.startswith(XERIAL_MAGIC) else [data]
    try:
        _check_size("snappy", sum(cramjam.snappy.decompress_raw_len(block) for block in blocks), limit)
        out = bytearray()
        for block in blocks:
            out += cramjam.snappy.decompress_raw(block)
    except cramjam.DecompressionError as exc:
        raise DecodeError(f"bad snappy batch: {exc}") from exc
    return out


def _xerial_blocks(data: bytes) -> Iterator[bytes]:
    """The raw snappy blocks inside xerial's framing (the caller has seen the magic)."""
    pos = _XERIAL_HEADER_SIZE
    if len(data) < pos:
        raise DecodeError("bad snappy batch: xerial header cut short")
    while pos < len(data):
        if pos + _XERIAL_BLOCK_LENGTH.size > len(data):
            raise DecodeError("bad snappy batch: xerial block length cut short")
        (length,) = _XERIAL_BLOCK_LENGTH.unpack_from(data, pos)
        pos += _XERIAL_BLOCK_LENGTH.size
        if length <= 0 or pos + length > len(data):
            raise DecodeError(f"bad snappy batch: xerial block of {length} bytes at {pos} of {len(data)}")
        yield data[pos:pos + length]
        pos += length


def _into_bounded_buffer(codec: str, decode_into: DecodeInto) -> Callable[[bytes, int], Buffer]:
    """A reader for a codec that states no trustworthy length: decode into buffers that cannot grow."""

    def read(data: bytes, limit: int) -> Buffer:
        size = min(limit, max(_SMALLEST_GUESS, len(data) * _FIRST_GUESS_RATIO))
        while True:
            out = bytearray(size)
            try:
                return memoryview(out)[:decode_into(data, out)]
            except cramjam.DecompressionError as exc:
                if _BUFFER_FULL not in str(exc):
                    raise DecodeError(f"bad {codec} batch: {exc}") from exc
                _check_size(codec, size + 1, limit)
            size = min(limit, size * _GROWTH)

    return read


def _check_size(codec: str, size: int, limit: int) -> None:
    if size > limit:
        raise DecodeError(f"{codec} batch inflates beyond the {limit}-byte limit")


_READERS: dict[int, Callable[[bytes, int], Buffer]] = {
    GZIP: _gunzip,
    SNAPPY: _unsnappy,
    LZ4: _into_bounded_buffer("lz4", cramjam.lz4.decompress_into),
    ZSTD: _into_bounded_buffer("zstd", cramjam.zstd.decompress_into),
}
