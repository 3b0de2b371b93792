"""FrameSplitter.lend: frames inside a reused receive buffer come back as views of it, the rest is copied.

Every stream of test_framing is lent through one buffer that is overwritten before each read, as the
relay's shared read buffer is, so a frame that wrongly pointed into it would come out corrupted.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from protocol.errors import FrameTooLarge
from protocol.framing import FrameSplitter, frame
from tests.unit.protocol.test_framing import BODIES, CASES, CHUNKERS, LIMIT

READ_BUFFER = 1 << 20


def lend_all(chunks: Iterator[bytes], limit: int = LIMIT) -> tuple[list[bytes], FrameSplitter]:
    """Each chunk read into the same buffer (scribbled over first), lent, drained, copied out."""
    splitter = FrameSplitter(limit)
    read_buffer = bytearray(READ_BUFFER)
    out: list[bytes] = []
    for chunk in chunks:
        read_buffer[:] = b"\xee" * READ_BUFFER
        read_buffer[: len(chunk)] = chunk
        splitter.lend(memoryview(read_buffer)[: len(chunk)])
        while (body := splitter.next_frame()) is not None:
            out.append(bytes(body))
    return out, splitter


@pytest.mark.parametrize(("case", "chunker"), CASES)
def test_lent_chunks_give_every_frame_body(case: str, chunker: str) -> None:
    bodies = BODIES[case]
    frames, splitter = lend_all(CHUNKERS[chunker](b"".join(frame(b) for b in bodies)))
    assert frames == bodies
    assert splitter.buffered_bytes == 0


@pytest.mark.parametrize(("case", "chunker"), CASES)
def test_a_partial_frame_at_the_end_of_a_lent_chunk_is_copied(case: str, chunker: str) -> None:
    bodies = BODIES[case]
    trailing = frame(b"next frame")[:-3]
    frames, splitter = lend_all(CHUNKERS[chunker](b"".join(frame(b) for b in bodies) + trailing))
    assert frames == bodies
    assert splitter.buffered_bytes == len(trailing)
    splitter.lend(memoryview(bytearray(b"ame")))
    assert bytes(splitter.next_frame() or b"?") == b"next frame"


def test_frames_wholly_inside_the_chunk_are_views_of_it() -> None:
    read_buffer = bytearray(frame(b"abc") + frame(b"defg"))
    splitter = FrameSplitter(LIMIT)
    splitter.lend(memoryview(read_buffer))
    first, second = splitter.next_frame(), splitter.next_frame()
    assert first is not None and second is not None
    assert first.obj is read_buffer and second.obj is read_buffer  # no copy
    assert (bytes(first), bytes(second)) == (b"abc", b"defg")
    assert splitter.next_frame() is None


def test_a_frame_begun_earlier_takes_only_its_missing_bytes_then_the_rest_are_views() -> None:
    big = frame(bytes(range(256)) * 40)
    splitter = FrameSplitter(LIMIT)
    splitter.lend(memoryview(bytearray(big[:100])))
    assert splitter.next_frame() is None
    chunk = bytearray(big[100:] + frame(b"after"))
    splitter.lend(memoryview(chunk))
    completed = splitter.next_frame()
    assert completed is not None and completed.obj is not chunk and bytes(completed) == big[4:]
    after = splitter.next_frame()
    assert after is not None and after.obj is chunk and bytes(after) == b"after"


def test_fed_frames_still_buffered_come_before_lent_ones() -> None:
    splitter = FrameSplitter(LIMIT)
    splitter.feed(frame(b"one") + frame(b"two") + frame(b"three")[:5])
    splitter.lend(memoryview(bytearray(frame(b"three")[5:] + frame(b"four"))))
    assert [bytes(f) for f in iter(splitter.next_frame, None)] == [b"one", b"two", b"three", b"four"]


def test_an_undrained_lent_chunk_is_copied_before_the_next_one() -> None:
    splitter = FrameSplitter(LIMIT)
    chunk = bytearray(frame(b"first") + frame(b"second"))
    splitter.lend(memoryview(chunk))
    assert bytes(splitter.next_frame() or b"?") == b"first"
    splitter.feed(frame(b"third"))  # the caller stopped draining: what was left must survive
    chunk[:] = bytes(len(chunk))
    assert [bytes(f) for f in iter(splitter.next_frame, None)] == [b"second", b"third"]


def test_an_oversized_prefix_in_a_lent_chunk_raises_and_stays_raised() -> None:
    splitter = FrameSplitter(1000)
    splitter.lend(memoryview(bytearray(frame(b"ok") + struct.pack(">i", 1001) + b"body")))
    assert bytes(splitter.next_frame() or b"?") == b"ok"
    for _ in range(2):
        with pytest.raises(FrameTooLarge) as raised:
            splitter.next_frame()
        assert raised.value.size == 1001
