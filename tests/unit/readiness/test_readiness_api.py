"""GET /v1/readiness and `kafka-failover-proxy readiness`: the guard, the table, the exit code."""

from __future__ import annotations

import json
import time

import pytest

from proxy import cli
from proxy.readiness.collect import finished_wall_s, previous_source, switches, user_topics
from tests.unit.admin.fake_control import FakeControl
from tests.unit.proxy.test_cli import admin_server

TOKEN = "cli-token"


def test_a_production_candidate_exits_0_and_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    control = FakeControl()
    with admin_server(control, token=None) as url:  # reads are open without a token, as /v1/status
        assert cli.main(["readiness", "--to", "B", "--admin-url", url]) == 0
    out = capsys.readouterr().out
    assert "readiness of B (active A): production candidate" in out and "rollback" in out
    assert control.calls == [("readiness", "B")]


def test_a_zero_in_rollback_exits_1_and_json_prints_the_card(capsys: pytest.CaptureFixture[str]) -> None:
    control = FakeControl()
    control.scores["rollback"] = 0
    with admin_server(control, token=None) as url:
        assert cli.main(["readiness", "--to", "B", "--json", "--admin-url", url]) == 1
    assert json.loads(capsys.readouterr().out)["production_candidate"] is False


def test_the_readiness_read_needs_the_token_when_one_is_configured(capsys: pytest.CaptureFixture[str]) -> None:
    with admin_server(FakeControl()) as url:
        assert cli.main(["readiness", "--to", "B", "--admin-url", url]) == 1
    assert "401" in capsys.readouterr().err


def test_an_unknown_cluster_is_a_404_that_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    with admin_server(FakeControl(), token=None) as url:
        assert cli.main(["readiness", "--to", "Z", "--admin-url", url]) == 1
    assert "unknown cluster 'Z'" in capsys.readouterr().err


def record(switch_id: str, source: str, target: str, **fields: object) -> dict[str, object]:
    return {"switch_id": switch_id, "source": source, "target": target, "dry_run": False, "final": True,
            "outcome": "succeeded", "requested_at_ms": 1000, "finished_at_ms": 3500, "evidence": {}, **fields}


def test_a_record_is_placed_on_the_wall_clock_from_its_id_and_its_duration() -> None:
    asked = time.mktime(time.strptime("20261201T102632", "%Y%m%dT%H%M%S"))
    assert finished_wall_s(record("sw-20261201T102632-1", "A", "B")) == asked + 2.5
    assert finished_wall_s(record("odd-id", "A", "B")) is None


def test_a_dry_run_passes_only_when_every_gate_it_checked_passed() -> None:
    gates = {"mirror": {"status": "passed"}, "groups": {"status": "failed"}}
    [seen] = switches([record("sw-20261201T102632-1", "A", "B", dry_run=True, evidence={"gates": gates})])
    assert not seen.gates_passed
    assert switches([record("sw-20261201T102632-2", "A", "B", final=False)]) == []


def test_a_switch_already_made_is_scored_from_the_cluster_it_left() -> None:
    records = [record("sw-20261201T100000-1", "A", "B"), record("sw-20261201T110000-2", "C", "B"),
               record("sw-20261201T120000-3", "A", "B", dry_run=True)]
    assert previous_source(records, "B") == "C"
    assert previous_source(records, "A") is None


def test_internal_and_mirrormaker_topics_are_not_compared() -> None:
    assert user_topics({"orders", "__consumer_offsets", "mm2-offsets.B.internal", "heartbeats",
                        "A.checkpoints.internal", "_schemas"}) == {"orders"}
