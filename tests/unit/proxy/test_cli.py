"""proxy.cli: config checks and exit codes; admin commands against a real admin app on loopback."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy import cli
from proxy.admin.api import build_admin_app, start_admin
from proxy.admin.audit import AuditLog
from proxy.config import AdminTokens
from proxy.metrics import Metrics
from tests.unit.admin.fake_control import FakeControl

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "config" / "proxy.yaml")
TOKEN = "cli-token"


@contextmanager
def admin_server(control: FakeControl, token: str | AdminTokens | None = TOKEN) -> Iterator[str]:
    """A real admin app on an ephemeral port, served by a loop in a background thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = build_admin_app(control, Metrics(), token, AuditLog(None))
    runner, port = asyncio.run_coroutine_threadsafe(start_admin(app, "127.0.0.1", 0), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", EXAMPLE]) == 0
    assert "ok" in capsys.readouterr().out


def test_check_config_names_the_bad_key_and_exits_2(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(EXAMPLE).read_text().replace("max_brokers: 8", "max_brokers: 0"))
    assert cli.main(["check-config", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("config error: listeners.max_brokers: expected 1..1024, got 0")


def test_check_config_reads_a_terminating_listener_s_credentials_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from proxy.sasl.scram import format_entry, make_credential

    users = tmp_path / "users.scram"
    config = tmp_path / "terminate.yaml"
    config.write_text(_with_listener_sasl(Path(EXAMPLE).read_text(), str(users)))
    assert cli.main(["check-config", "--config", str(config)]) == 2
    assert "listeners.sasl.credentials_file" in capsys.readouterr().err
    users.write_text(format_entry("alice", make_credential("SCRAM-SHA-512", "pw")) + "\n")
    assert cli.main(["check-config", "--config", str(config)]) == 0
    assert "1 SASL users" in capsys.readouterr().out


def test_check_config_reads_a_terminating_listener_s_jwks_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.oauth_tokens import SigningKey, write_jwks

    jwks = tmp_path / "jwks.json"
    config = tmp_path / "oauth.yaml"
    config.write_text(_with_listener_sasl(Path(EXAMPLE).read_text(), "", f"oauthbearer: {{jwks_file: {jwks}}}"))
    assert cli.main(["check-config", "--config", str(config)]) == 2
    assert "listeners.sasl.oauthbearer.jwks_file" in capsys.readouterr().err
    jwks.write_text('{"keys": {}}')
    assert cli.main(["check-config", "--config", str(config)]) == 2
    assert 'expected a JWKS document' in capsys.readouterr().err
    write_jwks(jwks, SigningKey.generate("k1", "ES256"))
    assert cli.main(["check-config", "--config", str(config)]) == 0
    assert "1 OAUTHBEARER keys" in capsys.readouterr().out


def _with_listener_sasl(example: str, credentials_file: str, oauthbearer: str = "") -> str:
    files = ", ".join(part for part in (f"credentials_file: {credentials_file}" if credentials_file else "",
                                        oauthbearer) if part)
    sasl = f"  sasl: {{mode: terminate, {files}}}\n"
    return example.replace("listeners:\n", "listeners:\n" + sasl, 1)


def test_check_config_on_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "config error:" in capsys.readouterr().err


def test_run_with_a_bad_config_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setitem(sys.modules, "proxy.app", types.SimpleNamespace(run=started.append))
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(EXAMPLE).read_text() + "unknown_section: 1\n")
    assert cli.main(["run", "--config", str(bad)]) == 2
    assert started == []


def test_run_hands_the_parsed_config_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []

    def run(config: Any) -> int:
        started.append(config)
        return 0
    monkeypatch.setitem(sys.modules, "proxy.app", types.SimpleNamespace(run=run))
    monkeypatch.setattr(cli, "configure_logging", lambda level, json: None)
    assert cli.main(["run", "--config", EXAMPLE]) == 0
    assert [c.virtual_cluster.cluster_id for c in started] == ["kfp-virtual-0000000001"]


def test_usage_errors_exit_2() -> None:
    assert cli.main([]) == 2
    assert cli.main(["switch"]) == 2
    assert cli.main(["status"]) == 2  # neither --config nor --admin-url
    assert cli.main(["switch", "--to", "B", "--timeout", "0", "--admin-url", "http://127.0.0.1:1"]) == 2


def test_switch_is_posted_and_its_id_printed(token_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    control = FakeControl()
    with admin_server(control) as url:
        code = cli.main(["switch", "--to", "B", "--emergency", "--timeout", "15",
                         "--admin-url", url, "--token-file", token_file])
    assert code == 0
    assert control.calls == [("switch", "B", "emergency", False, 15.0, False)]
    assert json.loads(capsys.readouterr().out) == {"switch_id": "switch-1"}


@pytest.mark.parametrize(("outcome", "expected_code"), [("succeeded", 0), ("aborted", 1)])
def test_switch_wait_polls_until_final(outcome: str, expected_code: int, token_file: str,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "POLL_INTERVAL_S", 0.01)
    control = FakeControl(polls_to_finish=2, outcome=outcome)
    with admin_server(control) as url:
        code = cli.main(["switch", "--to", "B", "--dry-run", "--wait", "--admin-url", url,
                         "--token-file", token_file])
    assert code == expected_code
    record = json.loads(capsys.readouterr().out)
    assert (record["outcome"], record["polls"]) == (outcome, 3)


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KFP_ADMIN_TOKEN", TOKEN)
    with admin_server(FakeControl()) as url:
        assert cli.main(["fence", "--admin-url", url]) == 0
        assert cli.main(["unfence", "--admin-url", url]) == 0
    assert "fenced" in capsys.readouterr().out


def test_wrong_token_and_rejection_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KFP_ADMIN_TOKEN", raising=False)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    control = FakeControl()
    control.reject = "a switch is already running"
    with admin_server(control) as url:
        assert cli.main(["switch", "--to", "B", "--admin-url", url, "--token-file", str(wrong)]) == 1
        assert "401" in capsys.readouterr().err
        monkeypatch.setenv("KFP_ADMIN_TOKEN", TOKEN)
        assert cli.main(["switch", "--to", "B", "--admin-url", url]) == 1
        assert "409: a switch is already running" in capsys.readouterr().err


def test_status_uses_the_config_for_address_and_token(tmp_path: Path, token_file: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KFP_ADMIN_TOKEN", raising=False)
    with admin_server(FakeControl()) as url:
        port = url.rsplit(":", 1)[1]
        config = tmp_path / "proxy.yaml"
        text = Path(EXAMPLE).read_text().replace("port: 9300", f"port: {port}")
        config.write_text(text.replace("token_file: null", f"token_file: {token_file}"))
        assert cli.main(["status", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == "A"


def test_unreachable_admin_api_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with admin_server(FakeControl()) as url:
        pass  # the server is gone: its port now refuses connections
    assert cli.main(["status", "--admin-url", url]) == 1
    assert "cannot reach the admin API" in capsys.readouterr().err


def test_scram_credential_prints_an_entry_a_server_accepts_the_password_against(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from proxy.sasl.scram import ScramClient, ScramServer, parse_entry

    monkeypatch.setattr(sys, "stdin", io.StringIO("pencil\n"))
    assert cli.main(["scram-credential", "--user", "alice", "--mechanism", "SCRAM-SHA-256"]) == 0
    line = capsys.readouterr().out.strip()
    assert "pencil" not in line
    user, entry = parse_entry(line)
    client, server = ScramClient("SCRAM-SHA-256", "alice", "pencil"), ScramServer("SCRAM-SHA-256", {user: entry}.get)
    client.verify(server.final(client.final(server.first(client.first()))))


def test_switch_passes_the_governance_override(token_file: str) -> None:
    control = FakeControl()
    control.governance_gap = "ALLOW User:alice READ on TOPIC literal 'orders'"
    with admin_server(control) as url:
        refused = cli.main(["switch", "--to", "B", "--admin-url", url, "--token-file", token_file])
        accepted = cli.main(["switch", "--to", "B", "--accept-governance-gaps", "--admin-url", url,
                             "--token-file", token_file])
    assert (refused, accepted) == (1, 0)
    assert control.governance_overrides == [False, True]


def test_from_the_config_reads_send_the_read_token_and_operations_the_operate_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KFP_ADMIN_TOKEN", raising=False)
    (tmp_path / "read").write_text("r3ad")
    (tmp_path / "operate").write_text("op3rate")
    tokens = AdminTokens(read="r3ad", operate="op3rate")
    control = FakeControl()
    with admin_server(control, tokens) as url:
        port = url.rsplit(":", 1)[1]
        config = tmp_path / "proxy.yaml"
        text = Path(EXAMPLE).read_text().replace("port: 9300", f"port: {port}")
        config.write_text(text.replace("  # read_token_file: /etc/kfp/read-token",
                                       f"  read_token_file: {tmp_path / 'read'}")
                          .replace("  # operate_token_file: /etc/kfp/operate-token",
                                   f"  operate_token_file: {tmp_path / 'operate'}"))
        assert cli.main(["status", "--config", str(config)]) == 0
        assert cli.main(["fence", "--config", str(config)]) == 0
    assert control.calls == [("fence",)]
