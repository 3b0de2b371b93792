"""The Grafana dashboard is importable and asks only for series the proxy exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_packaging import exported_series, metric_names, rules

DASHBOARDS = sorted((Path(__file__).resolve().parents[2] / "docs" / "grafana").glob("*.json"))
# not the proxy's: Prometheus' own scrape series and the blackbox exporter's /readyz probe
EXTERNAL = {"up", "probe_success", "le"}


def queries() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            out.extend((f"{path.name}: {panel['title']}", t["expr"]) for t in panel["targets"])
    return out


def test_a_dashboard_is_shipped_with_the_panels_the_issue_lists() -> None:
    assert DASHBOARDS
    titles = " ".join(title for title, _ in queries()).lower()
    for panel in ("active cluster", "epoch", "phase", "fence", "per api", "client library",
                  "replication lag", "catch-up", "readiness"):
        assert panel in titles, panel


def test_every_panel_has_a_unique_id_and_a_prometheus_target() -> None:
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)) and board["uid"] and board["title"]
        assert all(panel["targets"] for panel in board["panels"])


@pytest.mark.parametrize(("panel", "expr"), queries(), ids=[title for title, _ in queries()])
def test_every_series_a_panel_queries_is_exported_by_proxy_metrics(panel: str, expr: str) -> None:
    unknown = metric_names(expr) - set(exported_series()) - EXTERNAL
    assert not unknown, f"{panel} uses series proxy/metrics.py does not define: {sorted(unknown)}"


def test_the_alert_rules_too_name_only_exported_series() -> None:
    for rule in rules():
        assert not metric_names(rule["expr"]) - set(exported_series()) - EXTERNAL, rule["alert"]


def test_the_readiness_scores_are_exported_metrics() -> None:
    assert {"kfp_readiness_score", "kfp_readiness_production_candidate",
            "kfp_client_software_requests_total"} <= set(exported_series())
