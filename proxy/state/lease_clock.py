"""When an instance must consider its view of the shared switch state lost, and when it has it back.

Pure (times in, verdicts out), so the fail-closed rule is tested without etcd. The rule: an instance
that has not renewed its lease for a whole lease TTL may have missed a flip (its lease could have
expired and another instance could have switched the fleet without it), so from then on it fences
produce and new transactions. It has the view back only after a renewal succeeds and it has read the
state again; whether that state still matches what it routes by is the caller's check.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    UNCHANGED = "unchanged"
    LOST = "lost"
    REGAINED = "regained"


class LeaseClock:
    __slots__ = ("last_renewed_ms", "lost", "ttl_ms")

    def __init__(self, ttl_ms: int, now_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self.last_renewed_ms = now_ms
        self.lost = False

    def renewed(self, now_ms: int) -> Verdict:
        self.last_renewed_ms = now_ms
        if self.lost:
            self.lost = False
            return Verdict.REGAINED
        return Verdict.UNCHANGED

    def tick(self, now_ms: int) -> Verdict:
        """Called after a failed renewal, and periodically: LOST once the TTL has passed without one."""
        if not self.lost and now_ms - self.last_renewed_ms >= self.ttl_ms:
            self.lost = True
            return Verdict.LOST
        return Verdict.UNCHANGED
