"""FrameSplitter.lend: frames inside a reused receive buffer come back as views of it, the rest is copied.

Every stream of test_framing is also lent (its `split(..., lend=True)`); these are the cases only
lending has.
"""

from __future__ import annotations

import struct

import pytest

from protocol.errors import FrameTooLarge
from protocol.framing import FrameSplitter, frame
from tests.unit.protocol.test_framing import LIMIT


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
