"""SASL termination with real brokers: clients speak TLS + SCRAM (or PLAIN) to the proxy, which
authenticates them against its credentials file and logs its upstream connections in with each
cluster's own service login.

One module-scoped pair of single-node clusters (A: node 1, B: node 11), each with the harness's
SASL_PLAINTEXT listener, and a service user of its own: `kfp-a` exists only on A, `kfp-b` only on
B. The application user `alice` exists on neither: it is only in the proxy's credentials file, so
a client that gets anything done through the proxy was authenticated by the proxy, and after a
switch new connections can only work if the proxy logs in to B as `kfp-b`. Both brokers set a
4 s session lifetime (`connections.max.reauth.ms`, KIP-368): upstream connections that live
longer must renew their service session on the open connection, or the broker closes them.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import struct
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiokafka.helpers
import confluent_kafka
import pytest

from harness import tools, workload
from harness.certs import TestCertificates
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.proxy_thread import ProxyThread, proxy_config
from protocol.headers import encode_request_header
from proxy.sasl.scram import format_entry, make_credential
from proxy.sasl.settings import SaslLogin
from tests.integration import clients
from tests.integration.test_tls import certs, unique  # certs: the module-scoped fixture, made in this run

__all__ = ["certs"]  # a fixture: used by name, not by reference

pytestmark = pytest.mark.integration

SERVICE = {"A": ("kfp-a", "kfp-a-service-secret"), "B": ("kfp-b", "kfp-b-service-secret")}
ALICE = "alice-secret-pw"
SECRETS = (ALICE, *(password for _user, password in SERVICE.values()))
REAUTH = {"connections.max.reauth.ms": "4000"}


@pytest.fixture(scope="module")
def pair() -> Iterator[dict[str, Cluster]]:
    clusters = start_clusters([ClusterSpec("term-A", (1,), REAUTH, sasl_users=dict([SERVICE["A"]])),
                               ClusterSpec("term-B", (11,), REAUTH, sasl_users=dict([SERVICE["B"]]))])
    try:
        yield {"A": clusters[0], "B": clusters[1]}
    finally:
        stop_clusters(clusters)


@pytest.fixture(scope="module")
def proxy(pair: dict[str, Cluster], certs: TestCertificates,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyThread]:
    directory = tmp_path_factory.mktemp("sasl-term")
    users = directory / "users.scram"
    users.write_text("".join(format_entry("alice", make_credential(m, ALICE)) + "\n"
                             for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")))
    logins = {}
    for name, (user, password) in SERVICE.items():
        (directory / f"{name}.password").write_text(password + "\n")
        logins[name] = SaslLogin("SCRAM-SHA-512", user, password_file=str(directory / f"{name}.password"))
    listeners = {"tls": {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key)},
                 "sasl": {"mode": "terminate", "credentials_file": str(users)}}
    config = proxy_config({name: c.sasl_bootstrap for name, c in pair.items()}, "A", max_brokers=2,
                          listeners=listeners)
    config = replace(config, clusters={name: replace(c, sasl=logins[name]) for name, c in config.clusters.items()})
    server = ProxyThread(config).start()
    try:
        yield server
    finally:
        server.stop()


def confluent_auth(certs: TestCertificates, mechanism: str = "SCRAM-SHA-512", password: str = ALICE) -> dict[str, str]:
    return {"security.protocol": "SASL_SSL", "ssl.ca.location": str(certs.ca.cert), "sasl.mechanism": mechanism,
            "sasl.username": "alice", "sasl.password": password}


def python_auth(certs: TestCertificates, mechanism: str) -> dict[str, Any]:
    return {"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism, "sasl_plain_username": "alice",
            "sasl_plain_password": ALICE}


def metric_lines(proxy: ProxyThread, name: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{proxy.admin_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(name + "{")}


def seen_principals(proxy: ProxyThread) -> list[str]:
    with urllib.request.urlopen(f"{proxy.admin_url}/v1/status", timeout=10) as answer:
        names: list[str] = json.loads(answer.read())["seen_principals"]["names"]
    return names


def test_confluent_produces_and_consumes_through_tls_and_scram_terminated_at_the_proxy(
        proxy: ProxyThread, certs: TestCertificates) -> None:
    topic, sent = unique("term-confluent"), clients.values("c", 200)
    assert clients.confluent_produce(proxy.bootstrap, topic, sent, **confluent_auth(certs)) == 200
    received = clients.confluent_consume(proxy.bootstrap, topic, unique("g"), 200, **confluent_auth(certs))
    assert sorted(received) == sorted(sent)
    assert metric_lines(proxy, "kfp_sasl_logins_total").get('kfp_sasl_logins_total{outcome="succeeded"}', 0) >= 2


def test_kafka_python_with_plain_and_aiokafka_with_scram(proxy: ProxyThread, certs: TestCertificates) -> None:
    topic = unique("term-python")
    plain = {**python_auth(certs, "PLAIN"), "ssl_cafile": str(certs.ca.cert)}
    assert clients.kafka_python_produce(proxy.bootstrap, topic, clients.values("kp", 50), **plain) == 50
    scram = {**python_auth(certs, "SCRAM-SHA-512"),
             "ssl_context": aiokafka.helpers.create_ssl_context(cafile=str(certs.ca.cert))}
    assert clients.aiokafka_produce(proxy.bootstrap, topic, clients.values("aio", 50), **scram) == 50
    received = clients.aiokafka_consume(proxy.bootstrap, topic, unique("g"), 100, **scram)
    assert sorted(received) == sorted(clients.values("kp", 50) + clients.values("aio", 50))
    again = clients.kafka_python_consume(proxy.bootstrap, topic, unique("g"), 100, timeout_s=30, **plain)
    assert len(again) == 100


def renewed_sessions(proxy: ProxyThread) -> float:
    return sum(metric_lines(proxy, "kfp_upstream_reauthentications_total").values())


def test_java_clients_through_tls_and_scram_terminated_at_the_proxy(
        proxy: ProxyThread, certs: TestCertificates, tmp_path: Path) -> None:
    """The producer runs ~6 s, past the brokers' 4 s session lifetime: its upstream sessions are renewed."""
    topic = unique("term-java")
    renewed_before = renewed_sessions(proxy)
    jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="{ALICE}";'
    properties = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": jaas,
                  "ssl.truststore.type": "PEM", "ssl.truststore.location": str(certs.ca.cert)}
    config = tmp_path / "client.properties"
    config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    produced = tools.parse_producer_performance(tools.run_tool(tools.PRODUCER_PERFORMANCE, [
        "--bootstrap-server", proxy.bootstrap, "--topic", topic, "--num-records", "6000",
        "--record-size", "100", "--throughput", "1000", "--command-config", str(config)]).stdout)
    assert produced.records == 6_000
    assert renewed_sessions(proxy) > renewed_before
    result = tools.run_tool(tools.CONSUMER_PERFORMANCE, [
        "--bootstrap-server", proxy.bootstrap, "--topic", topic, "--num-records", "6000",
        "--group", unique("java"), "--timeout", "60000", "--command-config", str(config)])
    assert tools.parse_consumer_performance(result.stdout).records == 6_000


def test_a_wrong_password_fails_only_that_client_and_no_secret_is_logged_or_shown(
        proxy: ProxyThread, certs: TestCertificates, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    topic = unique("term-wrong-pw")
    errors: list[Any] = []
    bad = confluent_kafka.Producer({"bootstrap.servers": proxy.bootstrap, "error_cb": errors.append,
                                    **confluent_auth(certs, password="not-the-password")})
    bad.produce(topic, b"x")
    bad.flush(10)
    assert any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION for e in errors), errors
    assert "SASL login failed" in caplog.text
    assert clients.confluent_produce(proxy.bootstrap, topic, [b"ok"], **confluent_auth(certs)) == 1  # serves on
    with urllib.request.urlopen(f"{proxy.admin_url}/v1/status", timeout=10) as answer:
        status = answer.read().decode()
    assert json.loads(status)["active"] in ("A", "B")
    for secret in (*SECRETS, "not-the-password"):
        assert secret not in status
        assert secret not in caplog.text
    assert metric_lines(proxy, "kfp_sasl_logins_total").get('kfp_sasl_logins_total{outcome="failed"}', 0) >= 1


def test_a_user_added_to_the_credentials_file_logs_in_without_a_restart(
        proxy: ProxyThread, certs: TestCertificates) -> None:
    sasl = proxy.config.listeners.sasl
    assert sasl is not None and sasl.credentials_file is not None
    users = Path(sasl.credentials_file)
    topic, conf = unique("term-new-user"), {**confluent_auth(certs), "sasl.username": "bob", "sasl.password": "bob-pw"}
    errors: list[Any] = []
    refused = confluent_kafka.Producer({"bootstrap.servers": proxy.bootstrap, "error_cb": errors.append, **conf})
    refused.produce(topic, b"x")
    refused.flush(5)
    assert any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION for e in errors), errors
    assert "User:bob" not in seen_principals(proxy)  # a refused login is not seen
    before = users.read_text()
    staged = users.with_suffix(".new")
    staged.write_text(before + format_entry("bob", make_credential("SCRAM-SHA-512", "bob-pw")) + "\n")
    staged.replace(users)  # one rename: no login reads half a file
    try:
        assert clients.confluent_produce(proxy.bootstrap, topic, [b"from-bob"], **conf) == 1
        assert "User:bob" in seen_principals(proxy)  # the governance gate now compares bob too
    finally:
        users.write_text(before)


def test_a_request_before_login_is_refused_with_a_disconnect(proxy: ProxyThread, certs: TestCertificates,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A client configured for SSL without SASL sends Metadata first: a broker closes, so does the proxy."""
    caplog.set_level(logging.DEBUG)
    host, port = proxy.bootstrap.split(":")
    context = ssl.create_default_context(cafile=str(certs.ca.cert))
    payload = encode_request_header(3, 12, 7, "no-sasl") + b"\x01\x00\x00"  # Metadata v12: all topics
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(struct.pack(">i", len(payload)) + payload)
        assert tls.recv(4096) == b""  # closed unanswered
    assert "ILLEGAL_SASL_STATE" in caplog.text


def test_after_a_switch_new_connections_log_in_to_b_with_b_s_service_credentials(
        pair: dict[str, Cluster], proxy: ProxyThread, certs: TestCertificates) -> None:
    topic_a = unique("term-before")
    assert clients.confluent_produce(proxy.bootstrap, topic_a, [b"on-a"], **confluent_auth(certs)) == 1
    run = workload.run_switch(proxy, "B", mode="emergency", timeout_s=30)
    assert run.record["outcome"] == "succeeded", run.record
    topic = unique("term-after")
    assert clients.confluent_produce(proxy.bootstrap, topic, clients.values("b", 20), **confluent_auth(certs)) == 20
    through = clients.confluent_consume(proxy.bootstrap, topic, unique("g"), 20, **confluent_auth(certs))
    assert sorted(through) == clients.values("b", 20)
    direct = clients.confluent_consume(pair["B"].bootstrap, topic, unique("g"), 20)  # B's PLAINTEXT listener
    assert sorted(direct) == clients.values("b", 20)
