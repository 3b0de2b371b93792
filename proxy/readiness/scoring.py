"""The seven gates as pure functions: evidence in, a score 0/1/2 with its rule, evidence and remedy out.

No IO here: `collect.py` reads the evidence, this module only decides, so every rule is unit-tested
per score. A production candidate has no zero in compatibility, offsets, routing or rollback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GATES = ("compatibility", "offsets", "routing", "cost", "governance", "rollback", "observability")
CRITICAL = ("compatibility", "offsets", "routing", "rollback")
RECENT_DRILL_S = 7 * 24 * 3600  # a dry run or switch older than this no longer proves routing
GB = 1e9
SECONDS_PER_MONTH = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ClientShape:
    """One library+version seen by the data plane (aggregated over its connections)."""

    library: str
    version: str
    open_connections: int
    total_connections: int
    apis: Mapping[int, tuple[int, int]]  # api key -> (lowest, highest) version used
    idempotent: bool = False
    transactional: bool = False
    kip848_group: bool = False
    classic_group: bool = False
    crossed_switch: bool = False  # seen under two switch epochs: it survived a switch through this proxy

    @property
    def name(self) -> str:
        return f"{self.library} {self.version}"


@dataclass(frozen=True, slots=True)
class SwitchSeen:
    """A switch or dry run record, as evidence."""

    switch_id: str
    source: str
    target: str
    dry_run: bool
    outcome: str | None
    finished_at_s: float | None
    gates_passed: bool  # a dry run: every gate it checked passed; a switch: it succeeded


@dataclass(frozen=True, slots=True)
class GovernanceDifference:
    """One difference between A and B; `severity` is "blocking" or "warning"."""

    subject: str
    detail: str
    severity: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the rules look at, read at `now_s` (epoch seconds)."""

    active: str
    target: str
    now_s: float
    clients: Sequence[ClientShape] = ()
    target_reachable: bool = False
    target_api_ranges: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    target_brokers: int = 0
    target_topics_missing: Sequence[str] = ()  # topics A has that B's metadata lacks
    fleet_instances: int = 1
    fleet_off_state: Sequence[str] = ()  # instances not on the stored cluster/epoch
    fleet_cut_off: Sequence[str] = ()  # instances whose own monitor cannot reach the target
    mirror_configured: bool = False  # active -> target
    mirror_lag_records: int | None = None  # None: no progress read (MM2 state unknown or stopped)
    mirror_progress_fresh: bool = False  # MM2 committed offsets moved since the previous reading
    groups_seen: Sequence[str] = ()
    reverse_mirror_configured: bool = False  # target -> active
    reverse_lag_records: int | None = None
    switches: Sequence[SwitchSeen] = ()
    produce_bytes_per_s: float | None = None
    avg_record_bytes: float | None = None
    transfer_price_per_gb: float | None = None
    target_storage_bytes: int | None = None
    governance: Sequence[GovernanceDifference] | None = None
    governance_source: str = "none"  # "comparison" (issue 12 gate) or "topics" (names and partitions only)
    metrics_exposed: bool = True
    alerts_shipped: bool = False
    dashboard_shipped: bool = False


@dataclass(frozen=True, slots=True)
class GateScore:
    gate: str
    score: int
    rule: str
    evidence: dict[str, Any]
    raise_by: str  # what would raise it ("" at 2)

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "score": self.score, "rule": self.rule, "evidence": self.evidence,
                "raise_by": self.raise_by}


def _last(switches: Sequence[SwitchSeen], source: str, target: str, ok: bool = True) -> SwitchSeen | None:
    """The latest finished record from source to target (only passing ones when ok)."""
    found = [s for s in switches if s.source == source and s.target == target and s.finished_at_s is not None
             and (s.gates_passed or not ok)]
    return max(found, key=lambda s: s.finished_at_s or 0.0, default=None)


def _cite(record: SwitchSeen | None, now_s: float) -> dict[str, Any] | None:
    if record is None or record.finished_at_s is None:
        return None
    return {"switch_id": record.switch_id, "dry_run": record.dry_run, "outcome": record.outcome,
            "finished_at_s": record.finished_at_s, "age_s": round(now_s - record.finished_at_s, 1)}


def _one_or_two(gate: str, evidence: dict[str, Any], key: str, record: SwitchSeen | None, now_s: float,
                without: tuple[str, str], proven: str) -> GateScore:
    """2 when a recorded switch or drill proves the gate (cited under `key`), else 1 with its remedy."""
    evidence[key] = _cite(record, now_s)
    if record is None:
        return GateScore(gate, 1, without[0], evidence, without[1])
    return GateScore(gate, 2, proven, evidence, "")


def compatibility(ev: Evidence) -> GateScore:
    """Every API version a client uses must exist on B; 2 when every shape has crossed a switch."""
    gate = "compatibility"
    shapes = {
        "clients": [{"client": c.name, "connections": c.open_connections, "total_connections": c.total_connections,
                     "apis": {str(k): list(v) for k, v in sorted(c.apis.items())}} for c in ev.clients],
        "idempotent_producers": [c.name for c in ev.clients if c.idempotent],
        "transactional_producers": [c.name for c in ev.clients if c.transactional],
        "kip848_groups": [c.name for c in ev.clients if c.kip848_group],
        "classic_groups": [c.name for c in ev.clients if c.classic_group],
    }
    if not ev.target_reachable or not ev.target_api_ranges:
        return GateScore(gate, 0, f"{ev.target}'s ApiVersions unknown (unreachable)", shapes,
                         f"make {ev.target} reachable from the proxy")
    missing = []
    for client in ev.clients:
        for key, (_low, high) in sorted(client.apis.items()):
            have = ev.target_api_ranges.get(key)
            if have is None or not have[0] <= high <= have[1]:
                offered = "absent" if have is None else f"v{have[0]}-{have[1]}"
                missing.append(f"{client.name}: api {key} v{high} ({ev.target} has {offered})")
    if missing:
        return GateScore(gate, 0, f"a client uses an API version {ev.target} lacks", {**shapes, "missing": missing},
                         f"upgrade {ev.target} or pin those clients to versions it has")
    if not ev.clients:
        return GateScore(gate, 1, "no client seen yet: nothing contradicts compatibility", shapes,
                         "let clients connect, then drill a switch")
    uncrossed = [c.name for c in ev.clients if not c.crossed_switch]
    if uncrossed:
        return GateScore(gate, 1, f"every API version used exists on {ev.target}; some client shapes never "
                         "crossed a switch here", {**shapes, "not_crossed": uncrossed},
                         "drill a switch (and back) with these clients connected")
    return GateScore(gate, 2, "every API version used exists on B and every client shape crossed a switch",
                     shapes, "")


def offsets(ev: Evidence) -> GateScore:
    """Groups can resume on B only if MM2 copies and syncs now; replay is bounded by the mirror lag."""
    gate = "offsets"
    replay = {"planned_replay_records": 0 if ev.mirror_lag_records is not None else None,
              "emergency_replay_records": ev.mirror_lag_records}
    evidence: dict[str, Any] = {"mirror": f"{ev.active}->{ev.target}", "configured": ev.mirror_configured,
                "lag_records": ev.mirror_lag_records, "progress_fresh": ev.mirror_progress_fresh,
                "groups_seen": list(ev.groups_seen), **replay}
    if not ev.mirror_configured:
        return GateScore(gate, 0, f"no mirror {ev.active}->{ev.target} configured", evidence,
                         f"run MM2 {ev.active}->{ev.target} and add it to mirrors:")
    if ev.mirror_lag_records is None or not ev.mirror_progress_fresh:
        return GateScore(gate, 0, "MM2 progress not moving (stopped, or never read): groups cannot be translated now",
                         evidence, "start MirrorMaker 2 and let its offset syncs flow")
    return _one_or_two(gate, evidence, "last_passing_drill", _last(ev.switches, ev.active, ev.target), ev.now_s,
                       ("MM2 copies and syncs; no dry run to B proved every group's position",
                        f"kafka-failover-proxy switch --to {ev.target} --dry-run"),
                       "MM2 copies and syncs and a dry run proved every group's position")


def routing(ev: Evidence) -> GateScore:
    """B reachable with complete metadata from every instance, and a recent switch or dry run to it."""
    gate = "routing"
    evidence: dict[str, Any] = {"reachable": ev.target_reachable, "brokers": ev.target_brokers,
                                "topics_missing_on_target": list(ev.target_topics_missing)[:20],
                                "instances": ev.fleet_instances, "instances_off_state": list(ev.fleet_off_state),
                                "instances_cut_off": list(ev.fleet_cut_off)}
    if not ev.target_reachable or ev.target_brokers == 0:
        return GateScore(gate, 0, f"{ev.target} unreachable or without brokers", evidence,
                         f"make {ev.target}'s brokers reachable from every proxy instance")
    if ev.fleet_cut_off:
        return GateScore(gate, 0, f"an instance cannot reach {ev.target}", evidence,
                         f"open the path from {', '.join(ev.fleet_cut_off)} to {ev.target}'s brokers")
    if ev.fleet_off_state:
        return GateScore(gate, 0, "an instance is not on the stored cluster and epoch", evidence,
                         "kafka-failover-proxy fleet; restart or reconnect that instance")
    recent = _last(ev.switches, ev.active, ev.target)
    evidence["last_passing_drill"] = _cite(recent, ev.now_s)
    if ev.target_topics_missing:
        return GateScore(gate, 1, f"{ev.target}'s metadata lacks topics {ev.active} has", evidence,
                         "let MM2 create them (or create them) on B")
    if recent is None or recent.finished_at_s is None or ev.now_s - recent.finished_at_s > RECENT_DRILL_S:
        return GateScore(gate, 1, "B reachable with complete metadata; no passing switch or dry run in 7 days",
                         evidence, f"kafka-failover-proxy switch --to {ev.target} --dry-run")
    return GateScore(gate, 2, "B reachable, metadata complete, a passing switch or dry run in 7 days", evidence, "")


def cost(ev: Evidence) -> GateScore:
    """A transfer model from measured produce bytes; 2 once replay and the reverse flow are in it."""
    gate = "cost"
    evidence: dict[str, Any] = {"replicated_bytes_per_s": ev.produce_bytes_per_s,
                                "transfer_price_per_gb": ev.transfer_price_per_gb,
                                "standby_storage_bytes": ev.target_storage_bytes}
    if ev.produce_bytes_per_s is None or ev.transfer_price_per_gb is None:
        return GateScore(gate, 0, "no measured replication rate or no price per GB configured", evidence,
                         "set readiness.transfer_price_per_gb and let traffic flow")
    monthly_gb = ev.produce_bytes_per_s * SECONDS_PER_MONTH / GB
    evidence["monthly_transfer_gb"] = round(monthly_gb, 3)
    evidence["monthly_transfer_cost"] = round(monthly_gb * ev.transfer_price_per_gb, 2)
    replay = None
    if ev.mirror_lag_records is not None and ev.avg_record_bytes is not None:
        replay = int(ev.mirror_lag_records * ev.avg_record_bytes)
    evidence["switch_replay_bytes"] = replay
    evidence["rollback_flow_bytes_per_s"] = ev.produce_bytes_per_s if ev.reverse_mirror_configured else None
    if replay is None or not ev.reverse_mirror_configured:
        return GateScore(gate, 1, "steady-state transfer modelled; replay or rollback flow not measured", evidence,
                         "run MM2 both ways so replay and the reverse flow can be measured")
    return GateScore(gate, 2, "steady state, switch replay and the rollback flow are in the model", evidence, "")


def governance(ev: Evidence) -> GateScore:
    """Blocking differences between A and B score 0; only a full comparison can score 2."""
    gate = "governance"
    if ev.governance is None:
        return GateScore(gate, 1, "no governance comparison available", {"source": ev.governance_source},
                         "enable the governance comparison (issue 12)")
    diffs = [{"subject": d.subject, "detail": d.detail, "severity": d.severity} for d in ev.governance]
    evidence = {"source": ev.governance_source, "differences": diffs[:50], "count": len(diffs)}
    if any(d.severity == "blocking" for d in ev.governance):
        return GateScore(gate, 0, "blocking differences between A and B", evidence, "fix the blocking differences")
    if diffs or ev.governance_source != "comparison":
        rule = "warnings only" if diffs else "topic names agree (partition counts, configs and ACLs unchecked)"
        return GateScore(gate, 1, rule, evidence, "a full comparison (configs, ACLs) without differences")
    return GateScore(gate, 2, "the governance comparison found no difference", evidence, "")


def rollback(ev: Evidence) -> GateScore:
    """Rollback needs a reverse mirror B->A that moves, and a rehearsed failback."""
    gate = "rollback"
    evidence: dict[str, Any] = {"mirror": f"{ev.target}->{ev.active}", "configured": ev.reverse_mirror_configured,
                                "lag_records": ev.reverse_lag_records}
    if not ev.reverse_mirror_configured:
        return GateScore(gate, 0, f"no reverse mirror {ev.target}->{ev.active} configured", evidence,
                         f"run MM2 {ev.target}->{ev.active} and add it to mirrors:")
    return _one_or_two(gate, evidence, "last_failback", _last(ev.switches, ev.target, ev.active), ev.now_s,
                       ("reverse mirror configured; no failback rehearsed", f"drill a switch to {ev.target} and back"),
                       "reverse mirror configured and a failback rehearsed")


def observability(ev: Evidence) -> GateScore:
    gate = "observability"
    evidence = {"metrics": ev.metrics_exposed, "alert_rules": ev.alerts_shipped, "dashboard": ev.dashboard_shipped}
    if not ev.metrics_exposed:
        return GateScore(gate, 0, "no metrics exposed", evidence, "serve /metrics")
    if not (ev.alerts_shipped and ev.dashboard_shipped):
        return GateScore(gate, 1, "metrics exposed; alert rules or dashboard missing", evidence,
                         "install docs/alerts and docs/grafana")
    return GateScore(gate, 2, "metrics, alert rules and the dashboard (checked against the metrics by a test)",
                     evidence, "")


RULES = (compatibility, offsets, routing, cost, governance, rollback, observability)


@dataclass(frozen=True, slots=True)
class Scorecard:
    target: str
    active: str
    at_s: float
    gates: tuple[GateScore, ...]

    @property
    def production_candidate(self) -> bool:
        return all(g.score > 0 for g in self.gates if g.gate in CRITICAL)

    def score(self, gate: str) -> int:
        return next(g.score for g in self.gates if g.gate == gate)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "active": self.active, "at_s": self.at_s,
                "production_candidate": self.production_candidate,
                "total": sum(g.score for g in self.gates), "gates": [g.to_dict() for g in self.gates]}


def score(ev: Evidence) -> Scorecard:
    return Scorecard(ev.target, ev.active, ev.now_s, tuple(rule(ev) for rule in RULES))


def render_table(card: dict[str, Any]) -> str:
    """The human table of a scorecard dict (as /v1/readiness answers it)."""
    lines = [f"readiness of {card['target']} (active {card['active']}): "
             + ("production candidate" if card["production_candidate"] else "NOT a production candidate")
             + f", total {card['total']}/{2 * len(card['gates'])}",
             f"{'gate':<14} {'score':<5} rule / to raise it"]
    for gate in card["gates"]:
        lines.append(f"{gate['gate']:<14} {gate['score']:<5} {gate['rule']}")
        if gate["raise_by"]:
            lines.append(f"{'':<20} -> {gate['raise_by']}")
    return "\n".join(lines)
