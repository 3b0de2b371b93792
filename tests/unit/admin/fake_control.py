"""A ProxyControl stand-in for admin API and CLI tests: records calls, answers from plain fields."""

from __future__ import annotations

from typing import Any

from proxy.admin.api import SwitchRejected


class FakeControl:
    """Switches complete as soon as `switch_record` is asked `polls_to_finish` times."""

    def __init__(self, polls_to_finish: int = 0, outcome: str = "succeeded") -> None:
        self.ready = False
        self.reject: str | None = None
        self.calls: list[tuple[Any, ...]] = []
        self.governance_overrides: list[bool] = []
        self.governance_gap: str | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.polls_to_finish = polls_to_finish
        self.outcome = outcome
        self.scores = {"compatibility": 1, "offsets": 1, "routing": 1, "cost": 1, "governance": 1, "rollback": 1,
                       "observability": 2}

    async def governance_preflight(self, target: str, mode: str, accept_gaps: bool) -> dict[str, Any] | None:
        """Refuses like the real gate when `governance_gap` is set and not accepted."""
        self.governance_overrides.append(accept_gaps)
        if self.governance_gap is None:
            return None
        if not accept_gaps and mode != "emergency":
            raise SwitchRejected(f"governance gate: B lacks {self.governance_gap}")
        blocking = {"kind": "acl_missing_on_target", "subject": self.governance_gap, "severity": "blocking"}
        return {"accepted_gaps": accept_gaps, "differences": [blocking]}

    def status(self) -> dict[str, Any]:
        return {"active": "A", "switch_epoch": 0, "fenced": False}

    def is_ready(self) -> bool:
        return self.ready

    def readiness(self, target: str) -> dict[str, Any]:
        """A scorecard from `self.scores` (gate -> score) for a known cluster."""
        self.calls.append(("readiness", target))
        if target not in ("A", "B"):
            raise SwitchRejected(f"unknown cluster {target!r}")
        from proxy.readiness.scoring import CRITICAL

        gates = [{"gate": g, "score": s, "rule": f"rule of {g}", "evidence": {}, "raise_by": "" if s == 2 else "drill"}
                 for g, s in self.scores.items()]
        return {"target": target, "active": "A", "at_s": 0.0, "total": sum(self.scores.values()),
                "production_candidate": all(self.scores[g] > 0 for g in CRITICAL), "gates": gates}

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False, governance: dict[str, Any] | None = None) -> str:
        self.calls.append(("switch", target, mode, dry_run, timeout_s, accept_replay))
        if self.reject is not None:
            raise SwitchRejected(self.reject)
        switch_id = f"switch-{len(self.records) + 1}"
        self.records[switch_id] = {"switch_id": switch_id, "target": target, "phase": "fence",
                                   "final": False, "outcome": None, "polls": 0}
        return switch_id

    def switch_record(self, switch_id: str) -> dict[str, Any] | None:
        record = self.records.get(switch_id)
        if record is None:
            return None
        record["polls"] += 1
        if record["polls"] > self.polls_to_finish:
            phase = "done" if self.outcome == "succeeded" else "aborted"
            record.update(phase=phase, final=True, outcome=self.outcome)
        return dict(record)

    def fence(self) -> dict[str, Any]:
        self.calls.append(("fence",))
        if self.reject is not None:
            raise SwitchRejected(self.reject)
        return {"fenced": True}

    def unfence(self) -> dict[str, Any]:
        self.calls.append(("unfence",))
        return {"fenced": False}

    async def abort_transaction(self, cluster: str, transactional_id: str) -> dict[str, Any]:
        self.calls.append(("abort_transaction", cluster, transactional_id))
        if self.reject is not None:
            raise SwitchRejected(self.reject)
        return {"cluster": cluster, "transactional_id": transactional_id, "producer_id": 7, "producer_epoch": 1}
