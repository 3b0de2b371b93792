"""proxy.admin.api: the HTTP API against a fake ProxyControl, over a real loopback aiohttp server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy.admin.api import BadRequest, build_admin_app, parse_switch_request, start_admin
from proxy.admin.audit import AuditLog
from proxy.config import AdminTokens
from proxy.metrics import Metrics
from tests.unit.admin.fake_control import FakeControl

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Scenario = Callable[[TestClient[Any, Any]], Awaitable[None]]


class Admin:
    """One admin app with its fake control, metrics and audit file."""

    def __init__(self, tmp_path: Path, token: str | AdminTokens | None = TOKEN) -> None:
        self.control = FakeControl()
        self.metrics = Metrics(clusters=["A", "B"])
        self.audit_path = tmp_path / "audit.jsonl"
        self.app = build_admin_app(self.control, self.metrics, token, AuditLog(str(self.audit_path)))

    def run(self, scenario: Scenario) -> None:
        async def main() -> None:
            async with TestClient(TestServer(self.app)) as client:
                await scenario(client)
        asyncio.run(main())

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    return Admin(tmp_path)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_missing_or_wrong_token_is_401_and_audited(admin: Admin, headers: dict[str, str]) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/switch", json={"target": "B"}, headers=headers)
        assert response.status == 401
        assert (await client.get("/v1/status", headers=headers)).status == 401
    admin.run(scenario)
    assert admin.control.calls == []
    entries = admin.audit()
    assert [(e["action"], e["outcome"]) for e in entries] == [("switch", "unauthorized"),
                                                              ("status", "unauthorized")]
    assert entries[0]["caller"].startswith("127.0.0.1:")


def test_switch_is_accepted_with_an_id_and_audited(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"target": "B", "mode": "emergency", "dry_run": True, "timeout_s": 30}
        response = await client.post("/v1/switch", json=body, headers=AUTH)
        assert response.status == 202
        switch_id = (await response.json())["switch_id"]
        record = await client.get(f"/v1/switch/{switch_id}", headers=AUTH)
        assert (await record.json())["target"] == "B"
    admin.run(scenario)
    assert admin.control.calls == [("switch", "B", "emergency", True, 30.0, False)]
    [entry] = admin.audit()
    assert entry["action"] == "switch" and entry["outcome"] == "accepted"
    assert entry["parameters"] == {"target": "B", "mode": "emergency", "dry_run": True, "timeout_s": 30.0,
                                   "accept_replay": False, "accept_governance_gaps": False}
    assert entry["evidence"] == {"switch_id": "switch-1"}


def test_accepting_a_bounded_replay_is_an_explicit_audited_choice(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"target": "B", "accept_replay": True}
        assert (await client.post("/v1/switch", json=body, headers=AUTH)).status == 202
        refused = await client.post("/v1/switch", json={"target": "B", "accept_replay": "yes"}, headers=AUTH)
        assert refused.status == 400 and "accept_replay" in (await refused.json())["error"]
    admin.run(scenario)
    assert admin.control.calls == [("switch", "B", "planned", False, 120.0, True)]
    assert admin.audit()[0]["parameters"]["accept_replay"] is True


def test_switch_defaults_to_planned_with_a_120_second_timeout(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/v1/switch", json={"target": "B"}, headers=AUTH)).status == 202
    admin.run(scenario)
    assert admin.control.calls == [("switch", "B", "planned", False, 120.0, False)]


@pytest.mark.parametrize(("body", "fragment"), [
    (b"not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1]", "JSON object"),
    (b"{}", "target"),
    (b'{"target": 5}', "target"),
    (b'{"target": "B", "mode": "fast"}', "mode"),
    (b'{"target": "B", "dry_run": "yes"}', "dry_run"),
    (b'{"target": "B", "timeout_s": 0}', "timeout_s"),
    (b'{"target": "B", "timeout_s": true}', "timeout_s"),
    (b'{"target": "B", "timeout": 5}', "unknown field"),
])
def test_bad_switch_body_is_400_with_a_clear_message(admin: Admin, body: bytes, fragment: str) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/switch", data=body, headers=AUTH)
        assert response.status == 400
        assert fragment in (await response.json())["error"]
    admin.run(scenario)
    assert admin.control.calls == []
    assert [e["outcome"] for e in admin.audit()] == ["bad_request"]


def test_rejected_switch_is_409_with_the_reason(admin: Admin) -> None:
    admin.control.reject = "no mirror A -> C"

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/switch", json={"target": "C"}, headers=AUTH)
        assert response.status == 409
        assert (await response.json()) == {"error": "no mirror A -> C"}
    admin.run(scenario)
    [entry] = admin.audit()
    assert entry["outcome"] == "rejected" and entry["evidence"] == {"reason": "no mirror A -> C"}


def test_unknown_switch_id_is_404(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/v1/switch/nope", headers=AUTH)).status == 404
    admin.run(scenario)


def test_fence_and_unfence_are_audited_with_their_results(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        assert await (await client.post("/v1/fence", headers=AUTH)).json() == {"fenced": True}
        assert await (await client.post("/v1/unfence", headers=AUTH)).json() == {"fenced": False}
    admin.run(scenario)
    assert admin.control.calls == [("fence",), ("unfence",)]
    assert [(e["action"], e["outcome"], e["evidence"]) for e in admin.audit()] == [
        ("fence", "ok", {"fenced": True}), ("unfence", "ok", {"fenced": False})]


def test_without_a_token_reads_are_open_and_mutations_refused(tmp_path: Path) -> None:
    admin = Admin(tmp_path, token=None)

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/v1/status")).status == 200
        response = await client.post("/v1/switch", json={"target": "B"})
        assert response.status == 403
        assert (await response.json())["error"] == "no admin token configured"
        assert (await client.post("/v1/fence")).status == 403
    admin.run(scenario)
    assert admin.control.calls == []
    outcomes = [(e["action"], e["outcome"]) for e in admin.audit()]
    assert outcomes == [("switch", "refused"), ("fence", "refused")]


def test_readyz_follows_the_control(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/readyz")).status == 503
        admin.control.ready = True
        assert (await client.get("/readyz")).status == 200
        assert await (await client.get("/healthz")).text() == "ok"
    admin.run(scenario)


def test_status_and_metrics(admin: Admin) -> None:
    admin.metrics.set_active("A")

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert await (await client.get("/v1/status", headers=AUTH)).json() == admin.control.status()
        response = await client.get("/metrics")
        assert response.status == 200 and response.content_type == "text/plain"
        assert 'kfp_active_cluster{cluster="A"} 1.0' in await response.text()
    admin.run(scenario)


def test_parse_switch_request_rejects_non_finite_timeouts() -> None:
    with pytest.raises(BadRequest, match="timeout_s"):
        parse_switch_request({"target": "B", "timeout_s": float("nan")})


def test_start_admin_reports_the_ephemeral_port_and_stops_cleanly(admin: Admin) -> None:
    async def main() -> None:
        runner, port = await start_admin(admin.app, "127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
            writer.close()
        finally:
            await runner.cleanup()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
    asyncio.run(main())


def test_audit_log_appends_one_json_line_per_entry(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(str(path), instance="proxy-1.example:9092")
    audit.record("10.0.0.1:5000", "fence", {}, "ok", {"fenced": True})
    audit.record("10.0.0.1:5000", "unfence", {"why": object()}, "ok", None)
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert set(first) == {"time", "instance", "caller", "action", "parameters", "outcome", "evidence"}
    assert first["instance"] == "proxy-1.example:9092"
    assert first["time"].endswith("+00:00") and first["evidence"] == {"fenced": True}
    assert second["action"] == "unfence" and second["parameters"]["why"].startswith("<object")


def test_audit_log_never_raises_into_the_caller(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog(str(tmp_path / "no-such-dir" / "audit.jsonl"))
    audit.record("caller", "switch", {}, "accepted", None)
    assert "could not append to audit log" in caplog.text


def test_aborting_a_dead_producers_transaction_is_audited_with_what_it_fenced(admin: Admin) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"cluster": "A", "transactional_id": "orders-writer"}
        response = await client.post("/v1/transactions/abort", json=body, headers=AUTH)
        assert response.status == 200 and (await response.json())["producer_epoch"] == 1
        bad = await client.post("/v1/transactions/abort", json={"cluster": "A"}, headers=AUTH)
        assert bad.status == 400 and "transactional_id" in (await bad.json())["error"]
        assert (await client.post("/v1/transactions/abort", json=body)).status == 401
    admin.run(scenario)
    assert admin.control.calls == [("abort_transaction", "A", "orders-writer")]
    outcomes = [(e["action"], e["outcome"]) for e in admin.audit()]
    assert outcomes == [("abort_transaction", "ok"), ("abort_transaction", "bad_request"),
                        ("abort_transaction", "unauthorized")]


def test_a_refused_abort_answers_409_and_is_audited(admin: Admin) -> None:
    admin.control.reject = "unknown cluster 'C'"

    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"cluster": "C", "transactional_id": "x"}
        response = await client.post("/v1/transactions/abort", json=body, headers=AUTH)
        assert response.status == 409 and "unknown cluster" in (await response.json())["error"]
    admin.run(scenario)
    assert [(e["action"], e["outcome"]) for e in admin.audit()] == [("abort_transaction", "rejected")]


READ, OPERATE = "read-t0ken", "operate-t0ken"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_read_token_reads_and_is_forbidden_to_operate_audited(tmp_path: Path) -> None:
    admin = Admin(tmp_path, AdminTokens(read=READ, operate=OPERATE))

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/v1/status", headers=_bearer(READ))).status == 200
        for path in ("/v1/switch", "/v1/fence", "/v1/unfence", "/v1/transactions/abort"):
            response = await client.post(path, json={"target": "B"}, headers=_bearer(READ))
            assert response.status == 403, path
            assert "read token" in (await response.json())["error"]
    admin.run(scenario)
    assert admin.control.calls == []
    assert [(e["action"], e["outcome"]) for e in admin.audit()] == [
        ("switch", "forbidden"), ("fence", "forbidden"), ("unfence", "forbidden"), ("abort_transaction", "forbidden")]


def test_the_operate_token_reads_and_operates(tmp_path: Path) -> None:
    admin = Admin(tmp_path, AdminTokens(read=READ, operate=OPERATE))

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/v1/status", headers=_bearer(OPERATE))).status == 200
        assert (await client.post("/v1/fence", headers=_bearer(OPERATE))).status == 200
        assert (await client.get("/v1/status", headers=_bearer("operate-t0ke"))).status == 401
    admin.run(scenario)
    assert admin.control.calls == [("fence",)]


def test_only_a_read_token_configured_leaves_every_mutation_forbidden(tmp_path: Path) -> None:
    admin = Admin(tmp_path, AdminTokens(read=READ))

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/v1/status", headers=_bearer(READ))).status == 200
        assert (await client.get("/v1/status")).status == 401
        assert (await client.post("/v1/fence", headers=_bearer(READ))).status == 403
    admin.run(scenario)
    assert admin.control.calls == []


def test_a_governance_gap_refuses_the_switch_until_accepted_and_both_are_audited(admin: Admin) -> None:
    admin.control.governance_gap = "ALLOW User:alice READ on TOPIC literal 'orders'"

    async def scenario(client: TestClient[Any, Any]) -> None:
        refused = await client.post("/v1/switch", json={"target": "B"}, headers=AUTH)
        assert refused.status == 409 and "User:alice" in (await refused.json())["error"]
        body = {"target": "B", "accept_governance_gaps": True}
        assert (await client.post("/v1/switch", json=body, headers=AUTH)).status == 202
        bad = await client.post("/v1/switch", json={"target": "B", "accept_governance_gaps": 1}, headers=AUTH)
        assert bad.status == 400 and "accept_governance_gaps" in (await bad.json())["error"]
    admin.run(scenario)
    assert admin.control.governance_overrides == [False, True]
    assert len(admin.control.calls) == 1
    refusal, accepted, _ = admin.audit()
    assert (refusal["outcome"], accepted["outcome"]) == ("rejected", "accepted")
    assert accepted["parameters"]["accept_governance_gaps"] is True
    assert accepted["evidence"]["governance_gaps_accepted"] == [
        "acl_missing_on_target ALLOW User:alice READ on TOPIC literal 'orders'"]


def test_an_emergency_switch_is_never_refused_by_the_governance_gate(admin: Admin) -> None:
    admin.control.governance_gap = "ALLOW User:alice READ on TOPIC literal 'orders'"

    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"target": "B", "mode": "emergency"}
        assert (await client.post("/v1/switch", json=body, headers=AUTH)).status == 202
    admin.run(scenario)
    assert [call[2] for call in admin.control.calls] == ["emergency"]
