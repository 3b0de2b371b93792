"""FrameSplitter and FrameBoundaryScanner: every stream fed whole, byte by byte, in random chunks."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator

import pytest

from protocol.errors import FrameTooLarge, LocalProtocolError
from protocol.framing import FrameBoundaryScanner, FrameHead, FrameSplitter, frame

LIMIT = 1 << 20
READ_BUFFER = 1 << 20

BODIES: dict[str, list[bytes]] = {
    "one": [b"\x00\x03\x00\x0c\x00\x00\x00\x07"],
    "empty body": [b""],
    "several": [b"a", b"", b"bcd" * 50, bytes(range(256))],
    "at the limit": [b"x" * LIMIT],
    "large then small": [bytes(300_000), b"tail"],
}

Chunker = Callable[[bytes], Iterator[bytes]]


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def bytewise(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


def random_chunks(data: bytes, seed: int = 7) -> Iterator[bytes]:
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        step = rng.choice((1, 2, 3, 5, 17, 1000, 65536))
        yield data[i : i + step]
        i += step


CHUNKERS: dict[str, Chunker] = {"whole": whole, "bytewise": bytewise, "random": random_chunks}


def split(chunks: Iterator[bytes], limit: int = LIMIT, lend: bool = False) -> tuple[list[bytes], FrameSplitter]:
    """Feed each chunk, draining frames after each feed as a protocol handler would.

    With `lend`, each chunk is read into one reused buffer, scribbled over first, and lent, as the
    relay's shared read buffer is: a frame that wrongly pointed into it would come out corrupted.
    """
    splitter = FrameSplitter(limit)
    read_buffer = bytearray(READ_BUFFER)
    out: list[bytes] = []
    for chunk in chunks:
        if lend:
            read_buffer[:] = b"\xee" * READ_BUFFER
            read_buffer[: len(chunk)] = chunk
            splitter.lend(memoryview(read_buffer)[: len(chunk)])
        else:
            splitter.feed(chunk)
        while (body := splitter.next_frame()) is not None:
            out.append(bytes(body))
    return out, splitter


def applicable(case: str, chunker: str) -> bool:
    """Byte-at-a-time feeding of megabyte frames is slow and proves nothing new."""
    return not (chunker == "bytewise" and sum(map(len, BODIES[case])) > 10_000)


CASES = [(c, k) for c in BODIES for k in CHUNKERS if applicable(c, k)]


@pytest.mark.parametrize("lend", [False, True], ids=["feed", "lend"])
@pytest.mark.parametrize(("case", "chunker"), CASES)
def test_splitter_returns_every_frame_body(case: str, chunker: str, lend: bool) -> None:
    bodies = BODIES[case]
    stream = b"".join(frame(b) for b in bodies)
    frames, splitter = split(CHUNKERS[chunker](stream), lend=lend)
    assert frames == bodies
    assert splitter.buffered_bytes == 0


@pytest.mark.parametrize("lend", [False, True], ids=["feed", "lend"])
@pytest.mark.parametrize(("case", "chunker"), CASES)
def test_trailing_partial_frame_stays_buffered(case: str, chunker: str, lend: bool) -> None:
    bodies = BODIES[case]
    trailing = frame(b"next frame")[:-3]
    stream = b"".join(frame(b) for b in bodies) + trailing
    frames, splitter = split(CHUNKERS[chunker](stream), lend=lend)
    assert frames == bodies
    assert splitter.buffered_bytes == len(trailing)
    splitter.feed(b"ame")
    assert bytes(splitter.next_frame() or b"?") == b"next frame"


def test_prefix_split_across_feeds_needs_all_four_bytes() -> None:
    splitter = FrameSplitter(LIMIT)
    for byte in frame(b"xy")[:3]:
        splitter.feed(bytes([byte]))
        assert splitter.next_frame() is None
    splitter.feed(b"\x02x")
    assert splitter.next_frame() is None
    splitter.feed(b"y")
    assert bytes(splitter.next_frame() or b"?") == b"xy"


def test_oversized_prefix_raises_before_any_body_arrives() -> None:
    splitter = FrameSplitter(1000)
    splitter.feed(struct.pack(">i", 1001))
    with pytest.raises(FrameTooLarge) as raised:
        splitter.next_frame()
    assert (raised.value.size, raised.value.limit) == (1001, 1000)
    with pytest.raises(FrameTooLarge):  # the stream stays broken
        splitter.next_frame()


def test_negative_size_is_refused() -> None:
    splitter = FrameSplitter(1000)
    splitter.feed(b"\xff\xff\xff\xfe")
    with pytest.raises(FrameTooLarge) as raised:
        splitter.next_frame()
    assert raised.value.size == -2


def test_frame_exactly_at_limit_is_accepted() -> None:
    frames, _ = split(whole(frame(b"z" * 64)), limit=64)
    assert frames == [b"z" * 64]


def test_frames_are_writable_views_of_one_buffer() -> None:
    splitter = FrameSplitter(LIMIT)
    splitter.feed(frame(b"abc") + frame(b"def"))
    first, second = splitter.next_frame(), splitter.next_frame()
    assert isinstance(first, memoryview) and isinstance(second, memoryview)
    assert first.obj is second.obj  # slices of the receive buffer, not copies
    first[0:1] = b"X"
    assert (bytes(first), bytes(second)) == (b"Xbc", b"def")


def test_frame_kept_across_feed_is_not_changed() -> None:
    splitter = FrameSplitter(LIMIT)
    partial = frame(b"partial")
    splitter.feed(frame(b"kept") + partial[:7])
    kept = splitter.next_frame()
    assert kept is not None
    splitter.feed(partial[7:] + frame(b"more"))
    assert bytes(kept) == b"kept"
    assert [bytes(f) for f in iter(splitter.next_frame, None)] == [b"partial", b"more"]


def test_consumed_bytes_are_released_on_next_feed() -> None:
    splitter = FrameSplitter(LIMIT)
    splitter.feed(frame(bytes(100_000)) + b"\x00")
    body = splitter.next_frame()
    assert body is not None and len(body) == 100_000
    del body
    splitter.feed(b"")
    assert len(splitter._buf) == 1  # only the unread prefix byte is left


def test_frame_adds_big_endian_size() -> None:
    assert frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert frame(memoryview(b"")) == b"\x00\x00\x00\x00"


@pytest.mark.parametrize("limit", [-1, 1 << 31])
def test_limit_outside_int32_is_a_local_error(limit: int) -> None:
    with pytest.raises(LocalProtocolError):
        FrameSplitter(limit)
    with pytest.raises(LocalProtocolError):
        FrameBoundaryScanner(limit)


def scan(chunks: Iterator[bytes], peek: int, limit: int = LIMIT) -> list[FrameHead]:
    scanner = FrameBoundaryScanner(limit, peek)
    return [head for chunk in chunks for head in scanner.feed(chunk)]


def expected_heads(bodies: list[bytes], peek: int) -> list[FrameHead]:
    heads, position = [], 0
    for body in bodies:
        heads.append(FrameHead(position, len(body), body[:peek]))
        position += 4 + len(body)
    return heads


@pytest.mark.parametrize("peek", [0, 1, 8, 64])
@pytest.mark.parametrize(("case", "chunker"), CASES)
def test_scanner_finds_every_frame_start_and_head(case: str, chunker: str, peek: int) -> None:
    bodies = BODIES[case]
    stream = b"".join(frame(b) for b in bodies) + frame(b"partial")[:3]
    assert scan(CHUNKERS[chunker](stream), peek) == expected_heads(bodies, peek)


@pytest.mark.parametrize("chunker", CHUNKERS)
def test_scanner_reports_a_head_before_its_body_is_complete(chunker: str) -> None:
    body = b"header.." + bytes(10_000)
    stream = frame(body)[: 4 + 8 + 1]
    assert scan(CHUNKERS[chunker](stream), peek=8) == [FrameHead(0, len(body), b"header..")]


def test_scanner_position_locates_frames_inside_each_chunk() -> None:
    stream = frame(b"abcdef") + frame(b"gh") + frame(b"ijk")  # frames at 0, 10 and 16
    scanner = FrameBoundaryScanner(LIMIT, peek=2)
    first = scanner.feed(stream[:14])  # the second frame's prefix, but not its head
    chunk_start = scanner.position
    second = scanner.feed(stream[14:])
    assert [h.head for h in first] == [b"ab"]
    assert [(h.head, h.position - chunk_start) for h in second] == [(b"gh", -4), (b"ij", 2)]
    assert stream[chunk_start + 2 : chunk_start + 6] == b"\x00\x00\x00\x03"


def test_scanner_refuses_oversized_prefix_and_stays_broken() -> None:
    scanner = FrameBoundaryScanner(100, peek=4)
    assert scanner.feed(frame(b"ok")) == [FrameHead(0, 2, b"ok")]
    with pytest.raises(FrameTooLarge) as raised:
        scanner.feed(b"\x00\x00\x00\x65")
    assert raised.value.size == 101
    with pytest.raises(FrameTooLarge):
        scanner.feed(b"anything")
