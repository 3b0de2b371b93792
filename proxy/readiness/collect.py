"""Evidence readers: thin functions from the running proxy's state to `scoring.Evidence`.

They only read what the proxy already keeps up to date (cluster views from the monitors, the
executor's mirror readings and switch records, the data plane's client inventory, the fleet view
in /v1/status); the decisions are in `scoring`. Governance is behind `GovernanceSource` so the
issue-12 comparison plugs in; until then topic names and partition-less metadata are compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from proxy.admin.fleet_view import fleet_view
from proxy.readiness.mirror import STALE_AFTER_S
from proxy.readiness.scoring import ClientShape, Evidence, GovernanceDifference, SwitchSeen

DOCS = Path(__file__).resolve().parents[2] / "docs"


class GovernanceSource(Protocol):
    """The governance comparison of A and B (issue 12 item 6) as readiness sees it."""

    name: str

    def differences(self, active: str, target: str) -> Sequence[GovernanceDifference] | None: ...


class TopicNamesGovernance:
    """What can be read without credentials: topics of A missing on B (MM2 prefixes are not expected)."""

    name = "topics"

    def __init__(self, topics_of: Callable[[str], set[str] | None]) -> None:
        self._topics_of = topics_of

    def differences(self, active: str, target: str) -> Sequence[GovernanceDifference] | None:
        source, dest = self._topics_of(active), self._topics_of(target)
        if source is None or dest is None:
            return None
        return [GovernanceDifference(topic, f"on {active}, not on {target}", "blocking")
                for topic in sorted(user_topics(source) - dest)]


class GateGovernance:
    """The governance gate's latest comparison of the pair (every dry run and planned switch makes
    one, refused or not); the fallback's answer until there is one."""

    def __init__(self, reports: Mapping[tuple[str, str], Mapping[str, Any]], fallback: GovernanceSource) -> None:
        self._reports = reports
        self._fallback = fallback
        self.name = fallback.name

    def differences(self, active: str, target: str) -> Sequence[GovernanceDifference] | None:
        report = self._reports.get((active, target))
        if report is None:
            self.name = self._fallback.name
            return self._fallback.differences(active, target)
        self.name = "comparison"
        return [GovernanceDifference(f"{d.get('kind')} {d.get('subject')}",
                                     f"{active}: {d.get('a')}; {target}: {d.get('b')}", str(d.get("severity")))
                for d in report.get("differences", ())]


def user_topics(topics: set[str]) -> set[str]:
    """Topics a client may use: not internal (`__...`), not MM2's own (`mm2-...`, `*.internal`, heartbeats)."""
    return {t for t in topics if not t.startswith(("__", "mm2-", "_"))
            and not t.endswith((".internal", "heartbeats", ".checkpoints.internal"))}


def shapes(snapshot: Sequence[Mapping[str, Any]], epoch: int) -> list[ClientShape]:
    """Inventory snapshot -> shapes; a shape crossed a switch when seen under two epochs."""
    out = []
    for s in snapshot:
        first, last = s.get("first_epoch"), s.get("last_epoch")
        crossed = first is not None and last is not None and last > first
        out.append(ClientShape(str(s["library"]), str(s["version"]), int(s["open_connections"]),
                               int(s["total_connections"]),
                               {int(k): (int(v[0]), int(v[1])) for k, v in s["apis"].items()},
                               bool(s["idempotent"]), bool(s["transactional"]), bool(s["kip848_group"]),
                               bool(s["classic_group"]), crossed))
    return out


def switches(records: Sequence[Mapping[str, Any]]) -> list[SwitchSeen]:
    """Switch records (live and stored) -> evidence; unfinished ones are skipped."""
    out = []
    for r in records:
        if not r.get("final"):
            continue
        gates = (r.get("evidence") or {}).get("gates") or {}
        if r.get("dry_run"):
            passed = r.get("outcome") == "succeeded" and all(g.get("status") == "passed" for g in gates.values())
        else:
            passed = r.get("outcome") == "succeeded"
        out.append(SwitchSeen(str(r.get("switch_id")), str(r.get("source")), str(r.get("target")),
                              bool(r.get("dry_run")), r.get("outcome"), finished_wall_s(r), passed))
    return out


def finished_wall_s(record: Mapping[str, Any]) -> float | None:
    """Wall-clock end of a switch: its id carries the local wall time it was asked for
    (`sw-YYYYmmddTHHMMSS-n`), and its *_at_ms fields are loop-clock, so only their difference counts."""
    parts = str(record.get("switch_id", "")).split("-")
    requested, finished = record.get("requested_at_ms"), record.get("finished_at_ms")
    if len(parts) < 3 or not isinstance(requested, int | float) or not isinstance(finished, int | float):
        return None
    try:
        asked = time.mktime(time.strptime(parts[1], "%Y%m%dT%H%M%S"))
    except ValueError:
        return None
    return asked + max(0.0, (finished - requested) / 1000.0)


def previous_source(records: Sequence[Mapping[str, Any]], target: str) -> str | None:
    """The cluster the last succeeded switch into `target` left (to score a switch already made)."""
    landed = [r for r in records if r.get("target") == target and not r.get("dry_run")
              and r.get("outcome") == "succeeded"]
    latest = max(landed, key=lambda r: finished_wall_s(r) or 0.0, default=None)
    return None if latest is None else str(latest.get("source"))


class ReadinessReader:
    """Reads the running proxy (a `Control`) into Evidence for one target."""

    def __init__(self, control: Any, transfer_price_per_gb: float | None = None,
                 governance: GovernanceSource | None = None, started_at_s: float | None = None) -> None:
        self.control = control
        self.stale_after_s = STALE_AFTER_S
        self.price = transfer_price_per_gb
        self.started_at_s = started_at_s or time.time()
        self.governance = governance or GateGovernance(getattr(control.executor, "last_governance", {}),
                                                       TopicNamesGovernance(self._topics_of))

    def _topics_of(self, cluster: str) -> set[str] | None:
        monitors = self.control.context.monitors
        view = monitors[cluster].view if cluster in monitors else None
        return set(view.topic_ids) if view is not None and view.reachable else None

    def records(self) -> list[dict[str, Any]]:
        executor = self.control.executor
        return [*executor.stored_records.values(), *(r.to_dict() for r in executor.records.values())]

    def evidence(self, target: str, source: str | None = None, now_s: float | None = None) -> Evidence:
        """Evidence for a switch source -> target; source defaults to the active cluster (a switch
        already made is scored from the cluster it left, so its rollback gate stays answerable)."""
        now = time.time() if now_s is None else now_s
        ctx, executor = self.control.context, self.control.executor
        config = ctx.config
        active = source or ctx.active
        view = ctx.monitors[target].view
        snapshot = ctx.inventory.snapshot()
        source_topics, target_topics = self._topics_of(active), self._topics_of(target)
        missing = sorted(user_topics(source_topics) - target_topics) if source_topics and target_topics else []
        status = self.control.status()
        fleet = fleet_view(status)
        members = (status.get("state") or {}).get("fleet") or ()
        forward = executor.mirror_seen.get((active, target))
        reverse = executor.mirror_seen.get((target, active))
        produce_bytes = sum(int(s["produce_bytes"]) for s in snapshot)
        uptime = max(now - self.started_at_s, 1e-3)
        bytes_per_s = produce_bytes / uptime if snapshot else None
        records_per_s = forward.records_per_s() if forward is not None else None
        avg = bytes_per_s / records_per_s if bytes_per_s and records_per_s else None
        records = self.records()
        differences = self.governance.differences(active, target)
        return Evidence(
            active=active, target=target, now_s=now,
            clients=shapes(snapshot, ctx.switch_epoch),
            target_reachable=view.reachable, target_api_ranges=dict(view.api_ranges),
            target_brokers=len(view.brokers), target_topics_missing=missing,
            fleet_instances=max(1, len(members)),
            fleet_off_state=list(fleet.problems),
            fleet_cut_off=[str(m.get("instance")) for m in members
                           if isinstance(m.get("reachable"), list) and target not in m["reachable"]],
            mirror_configured=config.has_mirror(active, target),
            mirror_lag_records=forward.lag_records if forward is not None else None,
            mirror_progress_fresh=forward is not None and forward.moving(now, self.stale_after_s),
            reverse_mirror_configured=config.has_mirror(target, active),
            reverse_lag_records=reverse.lag_records if reverse is not None else None,
            switches=switches(records),
            produce_bytes_per_s=bytes_per_s, avg_record_bytes=avg, transfer_price_per_gb=self.price,
            governance=differences, governance_source=self.governance.name if differences is not None else "none",
            alerts_shipped=any(DOCS.glob("alerts/*.yml")), dashboard_shipped=any(DOCS.glob("grafana/*.json")),
        )
