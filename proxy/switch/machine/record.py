"""The switch record: what an operator reads in `GET /v1/switch/{id}` and what the audit log keeps.

It answers, for one switch, the questions asked during and after an incident: where is it now, how
long did each phase take, what did the proxy see before it flipped (open transactions, MM2 progress
per partition, group offsets it translated or wrote), and why did it end the way it did. Timings
come only from the `now` of events, so a replayed event sequence rebuilds the same record.

Records are immutable; every change returns a new record, which the machine keeps in its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from proxy.switch.machine import offsets
from proxy.switch.machine.phases import FINAL_PHASES, Mode, Outcome, Phase
from proxy.switch.machine.progress import GroupCheck, OffsetWrite, PartitionProgress, TailEntry

GATES = ("transactions", "mirror", "group_offsets")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseTiming:
    phase: Phase
    start_ms: int
    end_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GateReport:
    """One CATCH_UP gate: status is "passed", "waiting", "failed" or "not_checked"."""

    gate: str
    status: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    fenced_at: int | None = None
    drained_count: int | None = None
    drain_outstanding: int | None = None
    drain_unknown_fate: int = 0
    open_transactions: tuple[str, ...] = ()
    transaction_checks: int = 0
    mirror: tuple[PartitionProgress, ...] = ()
    mirror_checks: int = 0
    groups: tuple[GroupCheck, ...] = ()
    group_checks: int = 0
    offsets_written: tuple[OffsetWrite, ...] = ()
    emergency_tail: tuple[TailEntry, ...] = ()
    tail_observed_at: int | None = None
    clients_disconnected: int | None = None
    rejoined: tuple[tuple[str, str, int], ...] = ()
    gates: tuple[GateReport, ...] = tuple(GateReport(gate=g, status="not_checked") for g in GATES)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchRecord:
    switch_id: str
    source: str
    target: str
    mode: Mode
    dry_run: bool
    timeout_s: float
    requested_at: int
    epoch_before: int
    accept_replay: bool = False
    epoch_after: int | None = None
    phase: Phase = Phase.IDLE
    outcome: Outcome | None = None
    reason: str | None = None
    finished_at: int | None = None
    timings: tuple[PhaseTiming, ...] = ()
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES

    def entering(self, phase: Phase, now: int) -> SwitchRecord:
        """Close the running phase's timing at `now` and open `phase`'s."""
        timings = (*self._closed(now), PhaseTiming(phase=phase, start_ms=now))
        return replace(self, phase=phase, timings=timings)

    def finished(self, phase: Phase, outcome: Outcome, reason: str, now: int) -> SwitchRecord:
        closed = (*self._closed(now), PhaseTiming(phase=phase, start_ms=now, end_ms=now))
        return replace(self, phase=phase, outcome=outcome, reason=reason, finished_at=now, timings=closed)

    def with_evidence(self, **changes: Any) -> SwitchRecord:
        return replace(self, evidence=replace(self.evidence, **changes))

    def with_gate(self, gate: str, status: str, detail: str = "") -> SwitchRecord:
        gates = tuple(GateReport(gate=gate, status=status, detail=detail) if g.gate == gate else g
                      for g in self.evidence.gates)
        return self.with_evidence(gates=gates)

    def noted(self, note: str) -> SwitchRecord:
        return self.with_evidence(notes=(*self.evidence.notes, note))

    def gate(self, name: str) -> GateReport:
        return next(g for g in self.evidence.gates if g.gate == name)

    def _closed(self, now: int) -> tuple[PhaseTiming, ...]:
        if not self.timings or self.timings[-1].end_ms is not None:
            return self.timings
        return (*self.timings[:-1], replace(self.timings[-1], end_ms=now))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (only str, int, float, bool, None, lists and dicts)."""
        return {
            "switch_id": self.switch_id, "source": self.source, "target": self.target,
            "mode": str(self.mode), "dry_run": self.dry_run, "timeout_s": self.timeout_s,
            "accept_replay": self.accept_replay,
            "requested_at_ms": self.requested_at, "phase": str(self.phase), "final": self.final,
            "outcome": None if self.outcome is None else str(self.outcome), "reason": self.reason,
            "finished_at_ms": self.finished_at,
            "epoch_before": self.epoch_before, "epoch_after": self.epoch_after,
            "phases": [_timing(t) for t in self.timings],
            "evidence": _evidence(self.evidence),
        }


def _timing(t: PhaseTiming) -> dict[str, Any]:
    duration = None if t.end_ms is None else t.end_ms - t.start_ms
    return {"phase": str(t.phase), "start_ms": t.start_ms, "end_ms": t.end_ms, "duration_ms": duration}


def _partition(p: PartitionProgress) -> dict[str, Any]:
    return {
        "topic": p.topic, "partition": p.partition, "source_end_offset": p.source_end_offset,
        "source_last_data_offset": p.source_last_data_offset, "mirrored_upto": p.mirrored_upto,
        "target_end_offset": p.target_end_offset,
        "exact_sync": None if p.exact_sync is None else list(p.exact_sync),
        "lag": offsets.mirror_lag(p), "caught_up": offsets.is_caught_up(p),
    }


def _evidence(e: Evidence) -> dict[str, Any]:
    known_tails = [t.tail for t in e.emergency_tail if t.tail is not None]
    return {
        "fenced_at_ms": e.fenced_at,
        "drain": {"drained": e.drained_count, "outstanding": e.drain_outstanding,
                  "unknown_fate": e.drain_unknown_fate},
        "transactions": {"open": list(e.open_transactions), "checks": e.transaction_checks},
        "mirror": {"partitions": [_partition(p) for p in e.mirror], "checks": e.mirror_checks},
        "group_offsets": {
            "partitions": [_plain(g) for g in e.groups], "checks": e.group_checks,
            "written": [_plain(w) for w in e.offsets_written],
        },
        "emergency_tail": {
            "observed_at_ms": e.tail_observed_at,
            "partitions": [_plain(t) for t in e.emergency_tail],
            "total_known": sum(known_tails),
            "unknown_partitions": len(e.emergency_tail) - len(known_tails),
        },
        "clients_disconnected": e.clients_disconnected,
        "rejoined": [{"client_id": c, "group": g, "at_ms": at} for c, g, at in e.rejoined],
        "gates": {g.gate: {"status": g.status, "detail": g.detail} for g in e.gates},
        "notes": list(e.notes),
    }


def _plain(obj: GroupCheck | OffsetWrite | TailEntry) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}
