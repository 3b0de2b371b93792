"""Whether MirrorMaker 2 is moving, from the switch executor's background progress readings.

A lag number alone cannot tell a stopped MM2 from an idle topic: the mirror is "moving" when it
has nothing left to copy or its copied offsets rose since an earlier reading. Pure: the executor
feeds readings in, the readiness collector reads the latest.
"""

from __future__ import annotations

from dataclasses import dataclass

STALE_AFTER_S = 30.0  # a mirror whose copied offsets have not moved for this long, with lag, is stuck


@dataclass(frozen=True, slots=True)
class MirrorSeen:
    read_at_s: float = 0.0
    lag_records: int = 0
    mirrored_records: int = 0  # sum over partitions of the offsets MM2 copied up to
    produced_records: int = 0  # sum of the source's end offsets
    moved_at_s: float = 0.0  # last time the mirror had no lag or its copied offsets rose
    first_read_at_s: float | None = None
    first_produced_records: int = 0

    def observe(self, now_s: float, lag: int, mirrored: int, produced: int) -> MirrorSeen:
        moved = lag <= 0 or mirrored > self.mirrored_records
        if self.first_read_at_s is None:
            return MirrorSeen(now_s, lag, mirrored, produced, now_s, now_s, produced)
        return MirrorSeen(now_s, lag, mirrored, produced, now_s if moved else self.moved_at_s,
                          self.first_read_at_s, self.first_produced_records)

    def moving(self, now_s: float, stale_after_s: float = STALE_AFTER_S) -> bool:
        """Read recently, and caught up or advancing within `stale_after_s`."""
        return self.first_read_at_s is not None and now_s - self.read_at_s <= stale_after_s \
            and now_s - self.moved_at_s <= stale_after_s

    def records_per_s(self) -> float | None:
        if self.first_read_at_s is None:
            return None
        span = self.read_at_s - self.first_read_at_s
        return (self.produced_records - self.first_produced_records) / span if span > 0 else None
