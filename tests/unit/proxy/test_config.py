"""proxy.config: example files parse; every mistake is a ConfigError naming its exact YAML path."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from proxy.config import ConfigError, HostPort, StateConfig, load, parse, read_admin_token, read_admin_tokens
from proxy.sasl.settings import OAuthBearerSettings

ROOT = Path(__file__).resolve().parents[3]

VALID: dict[str, Any] = {
    "virtual_cluster": {"cluster_id": "kfp-virtual-1"},
    "listeners": {"bootstrap_port": 9192, "broker_port_base": 9200, "max_brokers": 4},
    "clusters": {
        "A": {"bootstrap_servers": ["127.0.0.1:19092", "a2.example:19093"]},
        "B": {"bootstrap_servers": ["[::1]:29092"]},
    },
    "active": "A",
    "mirrors": [{"source": "A", "target": "B"}],
    "admin": {"port": 9300},
}


def edited(path: str, value: Any = ..., delete: bool = False) -> dict[str, Any]:
    """VALID with one dotted path (`mirrors.0.source`) set to `value` or deleted."""
    raw = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = raw
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    leaf: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


def error_of(raw: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_example_files_parse(name: str) -> None:
    config = load(ROOT / "config" / name)
    assert config.virtual_cluster.cluster_id == "kfp-virtual-0000000001"
    assert set(config.clusters) == {"A", "B"}
    assert config.has_mirror(config.active, "B" if config.active == "A" else "A")


def test_the_examples_cover_both_sasl_modes() -> None:
    modes = {sasl.mode for p in (ROOT / "config").glob("*.yaml") if (sasl := load(p).listeners.sasl) is not None}
    assert modes == {"passthrough", "terminate"}


def test_sasl_termination_settings_parse_with_every_mechanism_by_default() -> None:
    sasl = parse(edited("listeners.sasl", {"mode": "terminate", "credentials_file": "users.scram"})).listeners.sasl
    assert sasl is not None and sasl.terminates
    assert (sasl.mechanisms, sasl.credentials_file) == (("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), "users.scram")


def test_an_oauthbearer_only_listener_needs_a_jwks_file_and_no_credentials_file() -> None:
    oauth = {"jwks_file": "jwks.json", "issuer": "https://idp", "audience": "kafka", "principal_claim": "azp"}
    sasl = parse(edited("listeners.sasl", {"mode": "terminate", "oauthbearer": oauth})).listeners.sasl
    assert sasl is not None and (sasl.mechanisms, sasl.credentials_file) == (("OAUTHBEARER",), None)
    assert sasl.oauthbearer == OAuthBearerSettings("jwks.json", "https://idp", "kafka", "azp", 30)


def test_a_credentials_file_and_a_jwks_file_enable_every_mechanism_by_default() -> None:
    both = {"mode": "terminate", "credentials_file": "users.scram", "oauthbearer": {"jwks_file": "jwks.json"}}
    sasl = parse(edited("listeners.sasl", both)).listeners.sasl
    assert sasl is not None and sasl.mechanisms == ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
    assert sasl.oauthbearer is not None and (sasl.oauthbearer.issuer, sasl.oauthbearer.principal_claim) == (None, "sub")


def test_example_files_match_the_defaults_they_document() -> None:
    config = load(ROOT / "config" / "proxy.yaml")
    minimal = parse({"virtual_cluster": {"cluster_id": "kfp-virtual-0000000001"},
                     "listeners": {"bootstrap_port": 9192, "broker_port_base": 9200},
                     "clusters": {"A": {"bootstrap_servers": ["127.0.0.1:19092"]},
                                  "B": {"bootstrap_servers": ["127.0.0.1:29092"]}},
                     "active": "A", "mirrors": [{"source": "A", "target": "B"}]})
    # the one setting the example turns on: the state file (no path by default keeps state in memory)
    assert config.state == StateConfig(backend="file", path="kfp-state.json")
    assert replace(config, state=StateConfig()) == minimal


def test_valid_config_builds_typed_values() -> None:
    config = parse(VALID)
    assert config.clusters["A"].bootstrap_servers == (HostPort("127.0.0.1", 19092),
                                                      HostPort("a2.example", 19093))
    assert config.clusters["B"].bootstrap_servers == (HostPort("::1", 29092),)
    assert str(config.clusters["B"].bootstrap_servers[0]) == "[::1]:29092"
    assert [config.broker_port(n) for n in range(4)] == [9200, 9201, 9202, 9203]
    assert config.limits.write_low_water_bytes < config.limits.write_high_water_bytes
    assert config.logging.level == "INFO" and config.logging.json is False


def test_broker_port_outside_the_slots_is_a_bug() -> None:
    with pytest.raises(ValueError):
        parse(VALID).broker_port(4)


@pytest.mark.parametrize("path", [
    "virtual_cluster.cluster_id",
    "listeners.bootstrap_port",
    "listeners.broker_port_base",
    "clusters",
    "clusters.A.bootstrap_servers",
    "active",
    "mirrors.0.source",
    "mirrors.0.target",
])
def test_every_required_key_missing_is_named(path: str) -> None:
    error = error_of(edited(path, delete=True))
    assert error.path == path.replace(".0.", "[0].")
    assert "required" in error.message


BAD_VALUES = [
    ("virtual_cluster.cluster_id", "has space", "virtual_cluster.cluster_id"),
    ("virtual_cluster.cluster_id", "x" * 65, "virtual_cluster.cluster_id"),
    ("listeners.bootstrap_port", 70000, "listeners.bootstrap_port"),
    ("listeners.bootstrap_port", "9192", "listeners.bootstrap_port"),
    ("listeners.bootstrap_port", True, "listeners.bootstrap_port"),
    ("listeners.bootstrap_port", 9201, "listeners.bootstrap_port"),
    ("listeners.broker_port_base", 0, "listeners.broker_port_base"),
    ("listeners.broker_port_base", 65534, "listeners.max_brokers"),
    ("listeners.max_brokers", 0, "listeners.max_brokers"),
    ("listeners.max_brokers", 1025, "listeners.max_brokers"),
    ("listeners.advertised_host", "0.0.0.0", "listeners.advertised_host"),
    ("listeners", ["not", "a", "mapping"], "listeners"),
    ("clusters", {}, "clusters"),
    ("clusters.bad name", {"bootstrap_servers": ["h:1"]}, "clusters.bad name"),
    ("clusters.B.bootstrap_servers", [], "clusters.B.bootstrap_servers"),
    ("clusters.B.bootstrap_servers", "h:1", "clusters.B.bootstrap_servers"),
    ("clusters.B.bootstrap_servers", ["foo"], "clusters.B.bootstrap_servers[0]"),
    ("clusters.B.bootstrap_servers", ["h:1", "h:0"], "clusters.B.bootstrap_servers[1]"),
    ("clusters.B.bootstrap_servers", ["h:1", 9092], "clusters.B.bootstrap_servers[1]"),
    ("clusters.B.sasl", {"mechanism": "PLAIN"}, "clusters.B.sasl.username"),
    ("clusters.B.sasl", {"mechanism": "GSSAPI", "username": "u", "password_env": "P"}, "clusters.B.sasl.mechanism"),
    ("clusters.B.sasl", {"mechanism": "PLAIN", "username": "u"}, "clusters.B.sasl.password_file"),
    ("clusters.B.sasl", {"mechanism": "PLAIN", "username": "u", "password_env": "P", "password": "x"},
     "clusters.B.sasl.password"),
    ("listeners.sasl", {"mode": "terminate"}, "listeners.sasl.credentials_file"),
    ("listeners.sasl", {"mode": "terminate", "credentials_file": "u", "mechanisms": ["GSSAPI"]},
     "listeners.sasl.mechanisms"),
    ("listeners.sasl", {"mode": "terminate", "credentials_file": "u", "mechanisms": []}, "listeners.sasl.mechanisms"),
    ("listeners.sasl", {"mode": "passthrough", "credentials_file": "u"}, "listeners.sasl.credentials_file"),
    ("listeners.sasl", {"mode": "relay"}, "listeners.sasl.mode"),
    ("listeners.sasl", {"mode": "terminate", "mechanisms": ["OAUTHBEARER"]}, "listeners.sasl.oauthbearer"),
    ("listeners.sasl", {"mode": "terminate", "credentials_file": "u", "mechanisms": ["PLAIN"],
                        "oauthbearer": {"jwks_file": "j"}}, "listeners.sasl.oauthbearer"),
    ("listeners.sasl", {"mode": "terminate", "oauthbearer": {}}, "listeners.sasl.oauthbearer.jwks_file"),
    ("listeners.sasl", {"mode": "terminate", "oauthbearer": {"jwks_file": "j", "jwks_url": "https://x"}},
     "listeners.sasl.oauthbearer.jwks_url"),
    ("listeners.sasl", {"mode": "terminate", "oauthbearer": {"jwks_file": "j", "clock_skew_s": -1}},
     "listeners.sasl.oauthbearer.clock_skew_s"),
    ("listeners.sasl", {"mode": "terminate", "oauthbearer": {"jwks_file": "j", "issuer": ""}},
     "listeners.sasl.oauthbearer.issuer"),
    ("listeners.sasl", {"mode": "terminate", "oauthbearer": "jwks.json"}, "listeners.sasl.oauthbearer"),
    ("listeners.sasl", {"mode": "terminate", "credentials_file": "u", "mechanisms": ["OAUTHBEARER"],
                        "oauthbearer": {"jwks_file": "j"}}, "listeners.sasl.credentials_file"),
    ("listeners.sasl", {"mode": "passthrough", "oauthbearer": {"jwks_file": "j"}}, "listeners.sasl.oauthbearer"),
    ("clusters.B.tls", {"ca": "x"}, "clusters.B.tls.ca"),
    ("clusters.B.tls", {"key_file": "k.pem"}, "clusters.B.tls.cert_file"),
    ("clusters.B.tls", {"verify_hostname": "no"}, "clusters.B.tls.verify_hostname"),
    ("listeners.tls", {"cert_file": "c.pem"}, "listeners.tls.key_file"),
    ("listeners.tls", {"cert_file": "c.pem", "key_file": "k.pem", "require_client_cert": True},
     "listeners.tls.require_client_cert"),
    ("admin.tls", {"key_file": "k.pem"}, "admin.tls.cert_file"),
    ("limits.max_frame_bytes", 0x16030100, "limits.max_frame_bytes"),
    ("active", "C", "active"),
    ("mirrors", {"source": "A"}, "mirrors"),
    ("mirrors.0.target", "A", "mirrors[0].target"),
    ("mirrors.0.source", "Z", "mirrors[0].source"),
    ("mirrors", [{"source": "A", "target": "B"}] * 2, "mirrors[1]"),
    ("admin.port", -1, "admin.port"),
    ("admin.port", 9192, "admin.port"),
    ("admin.port", 9203, "admin.port"),
    ("admin.token_env", "KFP_TOKEN", "admin.token_env"),
    ("admin.audit_log", 5, "admin.audit_log"),
    ("limits.max_frame_bytes", 10, "limits.max_frame_bytes"),
    ("limits.max_client_connections", 0, "limits.max_client_connections"),
    ("limits.idle_timeout_s", 0, "limits.idle_timeout_s"),
    ("limits.connect_timeout_s", "10s", "limits.connect_timeout_s"),
    ("limits.connect_timeout_s", float("inf"), "limits.connect_timeout_s"),
    ("limits.write_low_water_bytes", 4194304, "limits.write_low_water_bytes"),
    ("limits.max_buffered_bytes", 1024, "limits.max_buffered_bytes"),
    ("switch.drain_timeout_s", -1, "switch.drain_timeout_s"),
    ("switch.catch_up_timeout_s", False, "switch.catch_up_timeout_s"),
    ("state.backend", "zookeeper", "state.backend"),
    ("state.path", "", "state.path"),
    ("state", {"backend": "etcd"}, "state.endpoints"),
    ("state", {"backend": "etcd", "endpoints": ["127.0.0.1:2379"]}, "state.endpoints[0]"),
    ("state", {"backend": "etcd", "endpoints": ["http://e:2379"], "prefix": "kfp"}, "state.prefix"),
    ("state", {"backend": "etcd", "endpoints": ["http://e:2379"], "path": "s.json"}, "state.path"),
    ("logging.level", "LOUD", "logging.level"),
    ("logging.json", "yes", "logging.json"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD_VALUES,
                         ids=[f"{p}={v!r}"[:60] for p, v, _ in BAD_VALUES])
def test_bad_value_names_its_path(path: str, value: Any, expected: str) -> None:
    raw = edited(path, value)
    if path == "admin.token_env":
        raw["admin"]["token_file"] = "/some/file"
    assert error_of(raw).path == expected


def test_bad_host_port_message_quotes_the_value() -> None:
    error = error_of(edited("clusters.B.bootstrap_servers", ["foo"]))
    assert str(error) == "clusters.B.bootstrap_servers[0]: expected host:port, got 'foo'"


@pytest.mark.parametrize(("path", "expected"), [
    ("limits.max_frame_size", "limits.max_frame_size"),
    ("listenrs", "listenrs"),
    ("clusters.A.bootstrap", "clusters.A.bootstrap"),
    ("mirrors.0.direction", "mirrors[0].direction"),
    ("logging.format", "logging.format"),
])
def test_unknown_key_is_rejected(path: str, expected: str) -> None:
    error = error_of(edited(path, 1))
    assert error.path == expected
    assert "unknown key" in error.message


def test_top_level_must_be_a_mapping() -> None:
    assert error_of(None).path == "(top level)"
    assert error_of(["a"]).path == "(top level)"


def test_ephemeral_ports_are_allowed_for_tests() -> None:
    config = parse(edited("listeners.bootstrap_port", 0) | {"admin": {"port": 0}})
    assert (config.listeners.bootstrap_port, config.admin.port) == (0, 0)


def test_null_sections_take_their_defaults() -> None:
    config = parse(VALID | {"limits": None, "logging": None, "mirrors": None})
    assert config.limits.max_frame_bytes == 104_857_600 and config.mirrors == ()


def test_load_reports_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("listeners: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML") as caught:
        load(broken)
    assert caught.value.path == str(broken)


def test_admin_token_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    assert read_admin_token(parse(edited("admin.token_file", str(token_file)))) == "s3cret"
    monkeypatch.setenv("KFP_TEST_TOKEN", "from-env")
    assert read_admin_token(parse(edited("admin.token_env", "KFP_TEST_TOKEN"))) == "from-env"
    assert read_admin_token(parse(VALID)) is None


@pytest.mark.parametrize("setting", ["token_file", "token_env"])
def test_configured_but_missing_token_is_a_config_error(setting: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KFP_TEST_ABSENT", raising=False)
    value = str(tmp_path / "no-such-token") if setting == "token_file" else "KFP_TEST_ABSENT"
    with pytest.raises(ConfigError) as caught:
        read_admin_token(parse(edited(f"admin.{setting}", value)))
    assert caught.value.path == f"admin.{setting}"


def test_sasl_settings_keep_where_the_secret_is_and_read_it_only_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "a.password"
    secret.write_text("hunter2\n")
    raw = edited("clusters.A.sasl", {"mechanism": "SCRAM-SHA-512", "username": "kfp", "password_file": str(secret)})
    raw["clusters"]["B"]["sasl"] = {"mechanism": "PLAIN", "username": "kfp", "password_env": "KFP_TEST_B_PASSWORD"}
    raw["listeners"]["sasl"] = {"mode": "passthrough"}
    config = parse(raw)
    login_a, login_b = config.clusters["A"].sasl, config.clusters["B"].sasl
    assert login_a is not None and login_b is not None and config.listeners.sasl is not None
    assert config.listeners.sasl.mode == "passthrough"
    assert "hunter2" not in repr(config)
    assert login_a.password() == "hunter2"
    monkeypatch.setenv("KFP_TEST_B_PASSWORD", "pw-b")
    assert login_b.password() == "pw-b"


def test_read_and_operate_tokens_come_from_their_own_files_or_env(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    read_file = tmp_path / "read"
    read_file.write_text("r3ad\n")
    monkeypatch.setenv("KFP_TEST_OPERATE", "op3rate")
    raw = edited("admin", {"read_token_file": str(read_file), "operate_token_env": "KFP_TEST_OPERATE"})
    tokens = read_admin_tokens(parse(raw))
    assert (tokens.read, tokens.operate) == ("r3ad", "op3rate")
    assert read_admin_token(parse(raw)) == "op3rate"


def test_the_older_token_keys_are_the_operate_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret")
    tokens = read_admin_tokens(parse(edited("admin.token_file", str(token_file))))
    assert (tokens.read, tokens.operate) == (None, "s3cret")


@pytest.mark.parametrize(("admin", "path"), [
    ({"read_token_file": "/f", "read_token_env": "E"}, "admin.read_token_env"),
    ({"operate_token_file": "/f", "operate_token_env": "E"}, "admin.operate_token_env"),
    ({"operate_token_file": "/f", "token_file": "/g"}, "admin.operate_token_file"),
])
def test_conflicting_token_sources_name_their_path(admin: dict[str, str], path: str) -> None:
    assert error_of(edited("admin", admin)).path == path


def test_a_read_token_equal_to_the_operate_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFP_TEST_SAME", "same")
    raw = edited("admin", {"read_token_env": "KFP_TEST_SAME", "operate_token_env": "KFP_TEST_SAME"})
    with pytest.raises(ConfigError) as caught:
        read_admin_tokens(parse(raw))
    assert caught.value.path == "admin.read_token_env"


def test_readiness_takes_a_transfer_price_and_refuses_a_negative_one_or_an_unknown_key() -> None:
    assert parse({**VALID, "readiness": {"transfer_price_per_gb": 0.02}}).readiness.transfer_price_per_gb == 0.02
    assert parse(VALID).readiness.transfer_price_per_gb is None
    with pytest.raises(ConfigError) as bad:
        parse({**VALID, "readiness": {"transfer_price_per_gb": -1}})
    assert bad.value.path == "readiness.transfer_price_per_gb"
    with pytest.raises(ConfigError) as unknown:
        parse({**VALID, "readiness": {"price": 1}})
    assert "readiness" in unknown.value.path
