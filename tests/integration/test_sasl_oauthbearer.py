"""OAUTHBEARER with a real broker: terminated at the proxy (a JWT checked against a JWKS file the
test wrote, as the identity provider), and relayed untouched in passthrough.

One module-scoped single-node cluster with the harness's SASL_PLAINTEXT listener: SCRAM for the
proxy's service user `kfp`, and OAUTHBEARER with Kafka's default unsecured validator (alg none
tokens) for the passthrough test. Nobody but `kfp` exists at the broker for SCRAM, and the broker
cannot check the test's RS256/ES256 tokens at all, so a client that gets anything done through
the terminating listener was authenticated by the proxy, which logged in upstream as `kfp`.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest

from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.oauth_tokens import AUDIENCE, ISSUER, SigningKey, unsecured_oauthbearer_overrides, write_jwks
from harness.proxy_thread import ProxyThread, proxy_config
from proxy.sasl.settings import SaslLogin
from tests.integration import clients

pytestmark = pytest.mark.integration

SERVICE = ("kfp", "kfp-service-secret")
RSA = SigningKey.generate("idp-rsa-1", "RS256")
EC = SigningKey.generate("idp-ec-1", "ES256")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = start_clusters([ClusterSpec("oauth-A", (1,), unsecured_oauthbearer_overrides(),
                                          sasl_users=dict([SERVICE]))])
    try:
        yield started[0]
    finally:
        stop_clusters(started)


def service_login(directory: Path) -> SaslLogin:
    (directory / "kfp.password").write_text(SERVICE[1] + "\n")
    return SaslLogin("SCRAM-SHA-512", SERVICE[0], password_file=str(directory / "kfp.password"))


def start_proxy(cluster: Cluster, directory: Path, listener_sasl: dict[str, Any]) -> ProxyThread:
    config = proxy_config({"A": cluster.sasl_bootstrap}, "A", max_brokers=2, listeners={"sasl": listener_sasl})
    login = service_login(directory)
    return ProxyThread(replace(config, clusters={"A": replace(config.clusters["A"], sasl=login)})).start()


@pytest.fixture(scope="module")
def terminating(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyThread]:
    directory = tmp_path_factory.mktemp("oauth-term")
    jwks = write_jwks(directory / "jwks.json", RSA, EC)
    oauth = {"jwks_file": str(jwks), "issuer": ISSUER, "audience": AUDIENCE}
    server = start_proxy(cluster, directory, {"mode": "terminate", "oauthbearer": oauth})
    try:
        yield server
    finally:
        server.stop()


def bearer(make_token: Callable[[], str], principal: str = "alice") -> dict[str, Any]:
    """confluent-kafka settings that log in with OAUTHBEARER, the token from `make_token`."""
    def oauth_cb(_config: str) -> tuple[str, float, str, dict[str, str]]:
        return make_token(), time.time() + 600, principal, {}
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER", "oauth_cb": oauth_cb}


def metric(proxy: ProxyThread, line: str) -> float:
    with urllib.request.urlopen(f"{proxy.admin_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line))


def refused_errors(bootstrap: str, conf: dict[str, Any], topic: str) -> list[Any]:
    """The errors a producer with these settings reports within 15 s (an authentication one expected)."""
    errors: list[Any] = []
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **conf})
    producer.produce(topic, b"x")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION
                                                  for e in errors):
        producer.poll(0.5)
    producer.purge()
    producer.flush(1)
    return errors


def test_confluent_produces_and_consumes_with_rs256_and_es256_tokens_checked_at_the_proxy(
        terminating: ProxyThread) -> None:
    topic, sent = unique("oauth-term"), clients.values("o", 200)
    assert clients.confluent_produce(terminating.bootstrap, topic, sent, **bearer(RSA.token)) == 200
    received = clients.confluent_consume(terminating.bootstrap, topic, unique("g"), 200,
                                         **bearer(lambda: EC.token("bob"), "bob"))
    assert sorted(received) == sorted(sent)
    assert metric(terminating, 'kfp_sasl_logins_total{outcome="succeeded"}') >= 2


@pytest.mark.parametrize(("make_token", "reason"), [
    (lambda: RSA.token(lifetime_s=-600), "the token has expired"),
    (lambda: SigningKey("idp-rsa-1", "RS256", SigningKey.generate("x").private).token(), "signature does not"),
    (lambda: RSA.token(aud="someone-else"), "wrong audience"),
], ids=["expired", "forged", "audience"])
def test_a_bad_token_fails_only_its_connection_with_the_reason(
        terminating: ProxyThread, caplog: pytest.LogCaptureFixture, make_token: Callable[[], str],
        reason: str) -> None:
    caplog.set_level(logging.DEBUG)
    topic = unique("oauth-bad")
    failed_before = metric(terminating, 'kfp_sasl_logins_total{outcome="failed"}')
    errors = refused_errors(terminating.bootstrap, bearer(make_token), topic)
    authentication = [e for e in errors if e.code() == confluent_kafka.KafkaError._AUTHENTICATION]
    assert authentication and reason in authentication[0].str(), errors
    assert metric(terminating, 'kfp_sasl_logins_total{outcome="failed"}') > failed_before
    assert clients.confluent_produce(terminating.bootstrap, topic, [b"ok"], **bearer(RSA.token)) == 1  # serves on


def test_a_rotated_signing_key_is_taken_from_the_jwks_file_without_a_restart(terminating: ProxyThread) -> None:
    sasl = terminating.config.listeners.sasl
    assert sasl is not None and sasl.oauthbearer is not None
    jwks = Path(sasl.oauthbearer.jwks_file)
    rotated, topic = SigningKey.generate("idp-rsa-2", "RS256"), unique("oauth-rotated")
    errors = refused_errors(terminating.bootstrap, bearer(rotated.token), topic)
    assert any("no key with kid 'idp-rsa-2'" in e.str() for e in errors), errors
    before = jwks.read_text()
    staged = jwks.with_suffix(".new")
    write_jwks(staged, RSA, EC, rotated)
    staged.replace(jwks)  # one rename: no login reads half a file
    try:
        assert clients.confluent_produce(terminating.bootstrap, topic, [b"rotated"], **bearer(rotated.token)) == 1
    finally:
        jwks.write_text(before)


def test_passthrough_relays_an_unsecured_oauthbearer_login_to_the_broker(
        cluster: Cluster, tmp_path: Path) -> None:
    """The broker checks the (alg none) token itself; the proxy only relays SaslHandshake/SaslAuthenticate."""
    proxy = start_proxy(cluster, tmp_path, {"mode": "passthrough"})
    unsecured = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
                 "enable.sasl.oauthbearer.unsecure.jwt": True, "sasl.oauthbearer.config": "principal=carol"}
    try:
        topic, sent = unique("oauth-pass"), clients.values("p", 100)
        assert clients.confluent_produce(proxy.bootstrap, topic, sent, **unsecured) == 100
        received = clients.confluent_consume(proxy.bootstrap, topic, unique("g"), 100, **unsecured)
        assert sorted(received) == sorted(sent)
        with urllib.request.urlopen(f"{proxy.admin_url}/v1/status", timeout=10) as answer:
            assert json.loads(answer.read())["active"] == "A"
    finally:
        proxy.stop()
