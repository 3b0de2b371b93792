"""One cap on the bytes buffered across every connection of a proxy, enforced by not reading.

Each connection's own buffers are bounded already (a transport's write high-water mark pauses the
other side; held early requests pause their client), but ten thousand connections each within
their own bounds can still hold gigabytes. The budget adds them up: a connection reports what it
buffers now (partial frames, held requests, local answers waiting their turn, bytes its transports
have not sent yet), and when the total passes `cap` the proxy stops reading from every socket until
the total falls below `resume_below`. Nothing is dropped: a paused socket's bytes wait in the
kernel and TCP flow control tells the sender to wait too.

Buffers drain without telling anyone (a transport's write buffer shrinks below its low-water mark
with no callback unless it was paused), so while over the cap the I/O side re-counts every
connection on a timer; `recount` makes that one call. Only connections holding bytes have an entry,
so idle connections cost nothing here and a closed one is forgotten.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    PAUSE_ALL = "pause_all"  # the total just passed the cap
    RESUME_ALL = "resume_all"  # the total just fell below resume_below


class BufferBudget:
    __slots__ = ("_held", "cap", "over", "resume_below", "total")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.resume_below = cap * 3 // 4
        self.total = 0
        self.over = False
        self._held: dict[object, int] = {}

    def __len__(self) -> int:
        """Connections holding buffered bytes (bookkeeping that must shrink back when they close)."""
        return len(self._held)

    def report(self, owner: object, nbytes: int) -> Verdict | None:
        """`owner` buffers `nbytes` now; a verdict when the total crosses a mark."""
        before = self._held.pop(owner, 0)
        if nbytes:
            self._held[owner] = nbytes
        self.total += nbytes - before
        return self._verdict()

    def forget(self, owner: object) -> Verdict | None:
        return self.report(owner, 0)

    def recount(self, current: dict[object, int]) -> Verdict | None:
        """Replace every figure at once (the timer's re-count while over the cap)."""
        self._held = {owner: n for owner, n in current.items() if n}
        self.total = sum(self._held.values())
        return self._verdict()

    def _verdict(self) -> Verdict | None:
        if not self.over and self.total > self.cap:
            self.over = True
            return Verdict.PAUSE_ALL
        if self.over and self.total < self.resume_below:
            self.over = False
            return Verdict.RESUME_ALL
        return None
