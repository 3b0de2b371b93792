"""Kafka's framing: a big-endian int32 size, then that many bytes of header and body.

Two tools, for two ways of handling a byte stream:

`FrameSplitter` is for code that looks at whole frames. It owns one receive buffer (a `bytearray`
plus a read offset, in the style of h11's `ReceiveBuffer`) and has three outcomes per call: a frame,
`None` (need more bytes) or `FrameTooLarge`. `feed()` never raises; `next_frame()` checks a size prefix
as soon as its 4 bytes are buffered, so a caller that drains frames after every `feed()` refuses a
hostile prefix before any more of its body is kept. After `FrameTooLarge` the stream is unusable and
every later `next_frame()` raises it again.

Memory contract of `next_frame()`: the memoryview it returns is a slice of the receive buffer, with no
copy of the body. It is valid and unchanged at least until the next `feed()`. Consumed bytes are
dropped lazily at the start of the next `feed()`, and only when no view of the buffer is still held:
Python refuses to resize a `bytearray` that has live views, so if a caller keeps a frame longer, the
splitter moves the unread tail to a fresh buffer and leaves the old one (and the caller's frame)
untouched. Keeping a frame is therefore memory-safe, but it pins the old buffer and costs a copy of the
unread tail, so the hot path should finish with a frame, or `bytes()` it, before feeding again. The
view is writable: in-place patches (producer ids, leader epochs) change only that frame's bytes.

`lend(data)` is `feed` for a caller that reuses its receive buffer (the relay reads every socket
into one buffer): frames that lie wholly inside `data` come back as views of `data` itself, with no
copy, and only the bytes that complete a frame begun in an earlier chunk, or an incomplete frame at
the end, are copied into the splitter's buffer. Such frames are valid only while the caller leaves
its buffer unchanged, so the caller drains `next_frame()` until it returns None (or raises) before
it reads into that buffer again, and copies whatever it keeps longer.

`FrameBoundaryScanner` is for pass-through relaying: it never buffers a body. Fed the chunks that go
by, it reports where each frame starts in the stream and hands out its first `peek` bytes (enough for
a request header or a correlation id), so a relay can forward chunks untouched and still know what
each frame is. Only up to 4 + `peek` bytes per frame are ever copied.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol.errors import FrameTooLarge, LocalProtocolError

_SIZE = struct.Struct(">i")
PREFIX_SIZE = 4
MAX_SIZE = 0x7FFFFFFF

Buffer = bytes | bytearray | memoryview


def frame(body: Buffer) -> bytes:
    """Prefix `body` with its int32 size: the bytes to put on the wire."""
    if len(body) > MAX_SIZE:
        raise LocalProtocolError(f"frame body of {len(body)} bytes does not fit an int32 size")
    return _SIZE.pack(len(body)) + body


def _check_limit(max_frame_size: int) -> None:
    if not 0 <= max_frame_size <= MAX_SIZE:
        raise LocalProtocolError(f"max_frame_size {max_frame_size} outside 0..{MAX_SIZE}")


class FrameSplitter:
    """Splits a byte stream into frame bodies (see the module docstring for the memory contract)."""

    __slots__ = ("_buf", "_lent", "_lent_pos", "_limit", "_start")

    def __init__(self, max_frame_size: int) -> None:
        _check_limit(max_frame_size)
        self._limit = max_frame_size
        self._buf = bytearray()
        self._start = 0
        self._lent: memoryview | None = None  # the chunk given to lend(), until drained
        self._lent_pos = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as frames (including a partial frame's prefix)."""
        return len(self._buf) - self._start

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, max_frame_size: int) -> None:
        """A new cap from the next size prefix on (a SASL listener raises it once a client logged in)."""
        _check_limit(max_frame_size)
        self._limit = max_frame_size

    def feed(self, data: Buffer) -> None:
        """Append received bytes; frames handed out before this call may be released now."""
        self._keep_lent()
        if self._start:
            self._compact()
        self._append(data)

    def lend(self, data: Buffer) -> None:
        """Like feed, but frames wholly inside `data` are views of it (see the module docstring)."""
        self._keep_lent()
        if self._start:
            self._compact()
        self._lent = memoryview(data)
        self._lent_pos = 0

    def _append(self, data: Buffer) -> None:
        try:
            self._buf += data
        except BufferError:  # a caller still holds a frame of this buffer: start a new one
            self._buf = self._buf + data

    def _keep_lent(self) -> None:
        """Copy what is left of a lent chunk (a caller that stopped draining early)."""
        if self._lent is not None:
            self._append(self._lent[self._lent_pos :])
            self._lent = None

    def _compact(self) -> None:
        try:
            del self._buf[: self._start]  # O(1) in CPython: the start pointer moves
        except BufferError:
            self._buf = self._buf[self._start :]  # copies only the unread tail
        self._start = 0

    def next_frame(self) -> memoryview | None:
        """The next complete frame body, or None if more bytes are needed; raises FrameTooLarge."""
        if self._lent is not None:
            return self._next_lent(self._lent)
        return self._next_own()

    def _next_lent(self, lent: memoryview) -> memoryview | None:
        """From a lent chunk: a view of it when the whole frame is there, else copy and wait."""
        if len(self._buf) > self._start:
            return self._top_up(lent)
        pos = self._lent_pos
        remaining = len(lent) - pos
        if remaining >= PREFIX_SIZE:
            size: int = _SIZE.unpack_from(lent, pos)[0]
            end = pos + PREFIX_SIZE + size
            if 0 <= size <= self._limit and end <= len(lent):
                self._lent_pos = end
                return lent[pos + PREFIX_SIZE : end]
        elif not remaining:  # drained exactly at a frame boundary (the common end of a read)
            self._lent = None
            return None
        self._keep_lent()  # an incomplete (or oversized) frame: buffered, and judged, as fed bytes
        return self._next_own()

    def _top_up(self, lent: memoryview) -> memoryview | None:
        """A frame begun in an earlier chunk: copy only the bytes that complete it."""
        missing = PREFIX_SIZE - (len(self._buf) - self._start)
        if missing > 0:
            self._take(lent, missing)
            if len(self._buf) - self._start < PREFIX_SIZE:
                return None
        size: int = _SIZE.unpack_from(self._buf, self._start)[0]
        if 0 <= size <= self._limit:
            self._take(lent, self._start + PREFIX_SIZE + size - len(self._buf))
        return self._next_own()

    def _take(self, lent: memoryview, count: int) -> None:
        if count <= 0:  # fed bytes hold whole frames still: those come first
            return
        pos = self._lent_pos
        end = min(pos + count, len(lent))
        self._append(lent[pos:end])
        self._lent_pos = end
        if end == len(lent):
            self._lent = None

    def _next_own(self) -> memoryview | None:
        buf = self._buf
        start = self._start
        available = len(buf) - start
        if available < PREFIX_SIZE:
            return None
        size: int = _SIZE.unpack_from(buf, start)[0]
        if size < 0 or size > self._limit:
            raise FrameTooLarge(size, self._limit)
        end = start + PREFIX_SIZE + size
        if end > len(buf):
            return None
        self._start = end
        return memoryview(buf)[start + PREFIX_SIZE : end]


@dataclass(frozen=True, slots=True)
class FrameHead:
    """A frame seen by `FrameBoundaryScanner`: where it starts and its first bytes."""

    position: int  # stream offset of the frame's size prefix (bytes fed before it)
    size: int  # body size, without the prefix
    head: bytes  # the first min(peek, size) bytes of the body


class FrameBoundaryScanner:
    """Finds frame boundaries in a relayed stream without buffering bodies.

    `feed(chunk)` returns a `FrameHead` for every frame whose prefix and first `peek` body bytes (or
    whole body, if shorter) are complete by the end of `chunk`, in stream order. `position` counts every
    byte fed so far, so `head.position - (scanner.position - len(chunk))` is the offset of that frame's
    prefix within `chunk` (negative when the prefix began in an earlier chunk). After `FrameTooLarge`
    the stream has no boundaries left to find and every later `feed()` raises it again.
    """

    __slots__ = ("_error", "_limit", "_peek", "_pending", "_skip", "_want", "position")

    def __init__(self, max_frame_size: int, peek: int = 8) -> None:
        _check_limit(max_frame_size)
        if peek < 0:
            raise LocalProtocolError(f"peek must not be negative: {peek}")
        self._limit = max_frame_size
        self._peek = peek
        self._pending = bytearray()  # prefix + head of the frame being collected
        self._want = PREFIX_SIZE  # how many bytes _pending must reach
        self._skip = 0  # body bytes still to pass over
        self._error: FrameTooLarge | None = None
        self.position = 0

    def feed(self, chunk: Buffer) -> list[FrameHead]:
        """Scan one chunk; the chunk itself is neither kept nor changed."""
        if self._error is not None:
            raise self._error
        heads: list[FrameHead] = []
        view = memoryview(chunk)
        i, n = 0, len(view)
        while i < n:
            if self._skip:
                step = min(self._skip, n - i)
                self._skip -= step
                i += step
            else:
                i = self._collect(view, i, heads)
        self.position += n
        return heads

    def _collect(self, view: memoryview, i: int, heads: list[FrameHead]) -> int:
        """Read a frame's prefix and head at `i`, straight from the chunk when both are in it."""
        if not self._pending and len(view) - i >= PREFIX_SIZE + self._peek:
            size = self._check_size(view, i)
            end = i + PREFIX_SIZE + min(self._peek, size)
            heads.append(FrameHead(self.position + i, size, bytes(view[i + PREFIX_SIZE : end])))
            self._skip = size - (end - i - PREFIX_SIZE)
            return end
        return self._collect_split(view, i, heads)

    def _collect_split(self, view: memoryview, i: int, heads: list[FrameHead]) -> int:
        """Slow path: the prefix or head straddles chunks, so gather it in `_pending`."""
        pending = self._pending
        take = min(self._want - len(pending), len(view) - i)
        pending += view[i : i + take]
        i += take
        if len(pending) == PREFIX_SIZE and self._want == PREFIX_SIZE:
            self._want = PREFIX_SIZE + min(self._peek, self._check_size(pending, 0))
        if len(pending) == self._want:
            size = self._check_size(pending, 0)
            heads.append(FrameHead(self.position + i - len(pending), size, bytes(pending[PREFIX_SIZE:])))
            self._skip = size - (self._want - PREFIX_SIZE)
            self._want = PREFIX_SIZE
            pending.clear()
        return i

    def _check_size(self, buf: Buffer, offset: int) -> int:
        size: int = _SIZE.unpack_from(buf, offset)[0]
        if size < 0 or size > self._limit:
            self._error = FrameTooLarge(size, self._limit)
            raise self._error
        return size
