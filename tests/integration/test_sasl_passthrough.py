"""SASL passthrough: clients authenticate to the active cluster through the proxy with SCRAM-SHA-512.

One module-scoped pair of single-node clusters (A: node 1, B: node 11), each with a SASL_PLAINTEXT
listener next to PLAINTEXT and the SCRAM users `alice` (an application) and `kfp` (the proxy's
service login). The proxy's clusters are the SASL listeners, so its own connections (monitor,
switch admin) must log in, and the client's SaslHandshake/SaslAuthenticate are relayed as they
are. `connections.max.reauth.ms` is short on both, so the brokers demand KIP-368
re-authentication on connections that live longer than 4 s: the consumers below live longer.
Both run the StandardAuthorizer with `allow.everyone.if.no.acl.found` (no ACL exists unless a test
adds one and removes it), so the governance gate reads ACLs and a test can hide A's SCRAM users
from the proxy's service user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiokafka
import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from harness import tools, workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters, wait_for_topic
from harness.governance import (
    AUTHORIZER_OVERRIDES,
    add_scram_user,
    cluster_describe_deny,
    create_acls,
    delete_acls,
)
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import wait_until
from proxy.sasl.settings import SaslLogin
from tests.integration import admin_http, clients

pytestmark = pytest.mark.integration

USERS = {"alice": "alice-secret-pw", "kfp": "kfp-service-secret"}
SCRAM = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
         "sasl.username": "alice", "sasl.password": USERS["alice"]}
REAUTH = {"connections.max.reauth.ms": "4000"}
TOKEN_ENV, TOKEN = "KFP_TEST_SEEN_TOKEN", "seen-principals-token"


@pytest.fixture(scope="module")
def sasl_pair() -> Iterator[dict[str, Cluster]]:
    overrides = {**REAUTH, **AUTHORIZER_OVERRIDES}
    clusters = start_clusters([ClusterSpec("sasl-A", (1,), overrides, USERS),
                               ClusterSpec("sasl-B", (11,), overrides, USERS)])
    try:
        yield {"A": clusters[0], "B": clusters[1]}
    finally:
        stop_clusters(clusters)


def passthrough_config(sasl_pair: dict[str, Cluster], secret: Path, **overrides: Any) -> Any:
    """Both clusters' SASL listeners, a passthrough listener, and the proxy's own login as `kfp`."""
    secret.write_text(USERS["kfp"] + "\n")
    login = SaslLogin("SCRAM-SHA-512", "kfp", password_file=str(secret))
    config = proxy_config({name: c.sasl_bootstrap for name, c in sasl_pair.items()}, "A",
                          listeners={"sasl": {"mode": "passthrough"}}, **overrides)
    return replace(config, clusters={name: replace(c, sasl=login) for name, c in config.clusters.items()})


@pytest.fixture(scope="module")
def sasl_proxy(sasl_pair: dict[str, Cluster], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyThread]:
    proxy = ProxyThread(passthrough_config(sasl_pair, tmp_path_factory.mktemp("sasl") / "kfp.password")).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@contextlib.contextmanager
def gated_proxy(sasl_pair: dict[str, Cluster], tmp_path: Path) -> Iterator[ProxyThread]:
    """A proxy of its own, A active, whose admin API switches (a token) and may plan a switch to B
    (a mirror A->B in its config: the governance gate runs before the switch reads any mirror)."""
    config = passthrough_config(sasl_pair, tmp_path / "kfp.password", admin={"token_env": TOKEN_ENV},
                                mirrors=[{"source": "A", "target": "B"}])
    proxy = ProxyThread(config).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def topic_on(cluster: Cluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})  # kept alive until the result is in
    admin.create_topics([NewTopic(name, 2, 1)])[name].result(30)
    wait_for_topic(cluster, name)
    return name


def topic_on_both(pair: dict[str, Cluster], prefix: str) -> str:
    """The same topic on A and B: these tests hold whichever cluster is active (the switch test flips)."""
    name = topic_on(pair["A"], prefix)
    admin = AdminClient({"bootstrap.servers": pair["B"].bootstrap})
    admin.create_topics([NewTopic(name, 2, 1)])[name].result(30)
    wait_for_topic(pair["B"], name)
    return name


def requests_by_api(proxy: ProxyThread) -> dict[str, float]:
    with urllib.request.urlopen(f"{proxy.admin_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {line.split('api="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("kfp_requests_total{")}


def test_confluent_produces_and_consumes_with_scram_through_the_proxy(
        sasl_pair: dict[str, Cluster], sasl_proxy: ProxyThread) -> None:
    topic = topic_on_both(sasl_pair, "confluent-scram")
    sent = clients.values(topic, 200)
    assert clients.confluent_produce(sasl_proxy.bootstrap, topic, sent, **SCRAM) == 200
    received = clients.confluent_consume(sasl_proxy.bootstrap, topic, f"g-{topic}", 200, **SCRAM)
    assert sorted(received) == sorted(sent)


def test_kafka_python_and_aiokafka_produce_and_consume_with_scram(
        sasl_pair: dict[str, Cluster], sasl_proxy: ProxyThread) -> None:
    topic = topic_on_both(sasl_pair, "py-scram")
    auth = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "alice", "sasl_plain_password": USERS["alice"]}
    producer = kafka.KafkaProducer(bootstrap_servers=sasl_proxy.bootstrap, **auth)
    for value in clients.values("kp", 50):
        producer.send(topic, value)
    producer.flush(30)
    producer.close()

    async def aio() -> list[bytes]:
        aio_producer = aiokafka.AIOKafkaProducer(bootstrap_servers=sasl_proxy.bootstrap, **auth)
        await aio_producer.start()
        try:
            for value in clients.values("aio", 50):
                await aio_producer.send_and_wait(topic, value)
        finally:
            await aio_producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=sasl_proxy.bootstrap, group_id=f"aio-{topic}",
                                             auto_offset_reset="earliest", **auth)
        await consumer.start()
        out: list[bytes] = []
        try:
            while len(out) < 100:
                batch = await consumer.getmany(timeout_ms=1000)
                out += [record.value for records in batch.values() for record in records]
        finally:
            await consumer.stop()
        return out

    received = asyncio.run(asyncio.wait_for(aio(), 90))
    assert sorted(received) == sorted(clients.values("kp", 50) + clients.values("aio", 50))
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=sasl_proxy.bootstrap, group_id=f"kp-{topic}",
                                   auto_offset_reset="earliest", consumer_timeout_ms=15000, **auth)
    assert len(list(consumer)) == 100
    consumer.close()


def test_a_wrong_password_fails_only_that_client_and_no_secret_is_logged_or_shown(
        sasl_pair: dict[str, Cluster], sasl_proxy: ProxyThread, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    topic = topic_on_both(sasl_pair, "wrong-pw")
    errors: list[Any] = []
    bad = confluent_kafka.Producer({"bootstrap.servers": sasl_proxy.bootstrap, **SCRAM,
                                    "sasl.password": "not-the-password", "error_cb": errors.append})
    bad.produce(topic, b"x")
    bad.flush(10)
    assert any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION for e in errors), errors
    assert clients.confluent_produce(sasl_proxy.bootstrap, topic, [b"ok"], **SCRAM) == 1  # the proxy serves on
    with urllib.request.urlopen(f"{sasl_proxy.admin_url}/v1/status", timeout=10) as answer:
        status = answer.read().decode()
    assert json.loads(status)["active"] in ("A", "B")
    for secret in USERS.values():
        assert secret not in status
        assert secret not in caplog.text


def test_java_clients_with_scram_through_the_proxy(
        sasl_pair: dict[str, Cluster], sasl_proxy: ProxyThread, tmp_path: Path) -> None:
    """The producer runs ~6 s against brokers that set a 4 s session lifetime (KIP-368).

    Re-authentication is not asserted: in the one run made, the proxy saw 2 SaslHandshakes for 4
    ApiVersions, so whether Java re-authenticated on an open connection is not shown yet.
    """
    topic = topic_on_both(sasl_pair, "java-scram")
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="alice" password="{USERS["alice"]}";')
    properties = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": jaas}
    config = tmp_path / "client.properties"  # the tools' --command-property cannot carry a JAAS line's '='
    config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    produced = tools.parse_producer_performance(tools.run_tool(tools.PRODUCER_PERFORMANCE, [
        "--bootstrap-server", sasl_proxy.bootstrap, "--topic", topic, "--num-records", "6000",
        "--record-size", "100", "--throughput", "1000", "--command-config", str(config)]).stdout)
    assert produced.records == 6_000
    assert requests_by_api(sasl_proxy).get("SaslAuthenticate", 0) > 0
    result = tools.run_tool(tools.CONSUMER_PERFORMANCE, [
        "--bootstrap-server", sasl_proxy.bootstrap, "--topic", topic, "--num-records", "6000",
        "--group", f"java-{topic}", "--timeout", "60000", "--command-config", str(config)])
    assert tools.parse_consumer_performance(result.stdout).records == 6_000


def test_after_a_switch_new_connections_authenticate_against_b(
        sasl_pair: dict[str, Cluster], sasl_proxy: ProxyThread) -> None:
    """The proxy's admin connections log in to B too: the switch reads B before it flips."""
    topic_a = topic_on(sasl_pair["A"], "before-switch")
    assert clients.confluent_produce(sasl_proxy.bootstrap, topic_a, [b"on-a"], **SCRAM) == 1
    topic = topic_on(sasl_pair["B"], "after-switch")
    run = workload.run_switch(sasl_proxy, "B", mode="emergency", timeout_s=30)
    assert run.record["outcome"] == "succeeded", run.record
    assert clients.confluent_produce(sasl_proxy.bootstrap, topic, [b"on-b"], **SCRAM) == 1
    direct = clients.confluent_consume(sasl_pair["B"].sasl_bootstrap, topic, f"g-{topic}", 1, **SCRAM)
    assert direct == [b"on-b"]




def admin_call(proxy: ProxyThread, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    return admin_http.admin_call(proxy.admin_url, path, body, TOKEN)


def can_log_in(bootstrap: str, user: str, password: str) -> bool:
    conf = {**SCRAM, "sasl.username": user, "sasl.password": password}
    try:
        AdminClient({"bootstrap.servers": bootstrap, **conf}).list_topics(timeout=5)
    except confluent_kafka.KafkaException:
        return False
    return True


def user_on_a_only(sasl_pair: dict[str, Cluster], name: str) -> tuple[str, str]:
    """A fresh SCRAM user on A (none on B), once A lets it log in: (user, password)."""
    user, password = f"{name}-{uuid.uuid4().hex[:6]}", f"{name}-pw-{uuid.uuid4().hex}"
    add_scram_user(sasl_pair["A"].bootstrap, user, password)
    wait_until(lambda: can_log_in(sasl_pair["A"].sasl_bootstrap, user, password), 30, lambda: f"{user} cannot log in")
    return user, password


def dry_run_before_and_after_b_has(proxy: ProxyThread, b: Cluster, user: str, password: str
                                   ) -> tuple[tuple[int, Any], dict[str, Any]]:
    """The admin API's dry run to B, then the user created on B and the dry run again: the first
    answer, and the second's final switch record (202 asserted)."""
    refused = admin_call(proxy, "/v1/switch", {"target": "B", "dry_run": True, "timeout_s": 10})
    add_scram_user(b.bootstrap, user, password)
    accepted = admin_call(proxy, "/v1/switch", {"target": "B", "dry_run": True, "timeout_s": 10})
    assert accepted[0] == 202, accepted
    record_path = f"/v1/switch/{accepted[1]['switch_id']}"
    wait_until(lambda: admin_call(proxy, record_path)[1]["final"], 90, lambda: "dry run never finished")
    record: dict[str, Any] = admin_call(proxy, record_path)[1]
    return refused, record


def test_a_principal_seen_only_through_the_proxy_blocks_a_dry_run_until_b_has_its_credential(
        sasl_pair: dict[str, Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """gina is a SCRAM user on A with no ACL naming her: once she logged in through a passthrough
    listener, the governance gate names her, refuses a dry run to a B without her credential and
    passes once B has it. Her password is in no log, status or evidence."""
    caplog.set_level(logging.DEBUG)
    user, password = user_on_a_only(sasl_pair, "gina")
    topic = topic_on(sasl_pair["A"], "seen")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with gated_proxy(sasl_pair, tmp_path) as proxy:
        before = admin_call(proxy, "/v1/status")[1]["seen_principals"]
        gina = {**SCRAM, "sasl.username": user, "sasl.password": password}
        assert clients.confluent_produce(proxy.bootstrap, topic, [b"by-gina"], **gina) == 1
        seen = admin_call(proxy, "/v1/status")[1]["seen_principals"]
        refused, record = dry_run_before_and_after_b_has(proxy, sasl_pair["B"], user, password)
    assert before["names"] == [] and seen["names"] == [f"User:{user}"]
    assert refused[0] == 409, refused
    assert f"scram_credential_missing_on_target User:{user} SCRAM-SHA-512" in refused[1]["error"]
    evidence = record["evidence_governance"]
    assert evidence["blocking"] == 0 and evidence["seen_principals"] == [f"User:{user}"]
    assert f"User:{user}" in evidence["principals"]
    for shown in (json.dumps(seen), json.dumps(refused), json.dumps(record), caplog.text):
        assert password not in shown


def test_when_a_hides_its_scram_users_a_login_seen_through_the_proxy_still_blocks_a_dry_run(
        sasl_pair: dict[str, Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A denies the proxy's service user Describe on the cluster, so the gate cannot read A's SCRAM
    users (`not_readable`): only hana's login through the passthrough listener tells the gate she
    exists, and B lacking her credential refuses the dry run until it is created there. (A's
    answer is a prompt CLUSTER_AUTHORIZATION_FAILED: asked with a null user list, Kafka 4.4 never
    answered a refused DescribeUserScramCredentials, so the proxy asks with an empty one.)"""
    user, password = user_on_a_only(sasl_pair, "hana")
    topic = topic_on(sasl_pair["A"], "hidden")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    deny = cluster_describe_deny("User:kfp")
    create_acls(sasl_pair["A"].bootstrap, [deny])
    try:
        with gated_proxy(sasl_pair, tmp_path) as proxy:
            hana = {**SCRAM, "sasl.username": user, "sasl.password": password, "enable.idempotence": False}
            assert clients.confluent_produce(proxy.bootstrap, topic, [b"by-hana"], **hana) == 1
            refused, record = dry_run_before_and_after_b_has(proxy, sasl_pair["B"], user, password)
    finally:
        delete_acls(sasl_pair["A"].bootstrap, [deny])
    assert refused[0] == 409, refused
    assert f"scram_credential_missing_on_target User:{user} SCRAM-SHA-512" in refused[1]["error"]
    evidence = record["evidence_governance"]
    unreadable = {d["subject"]: d["a"] for d in evidence["differences"] if d["kind"] == "not_readable"}
    assert "CLUSTER_AUTHORIZATION_FAILED" in unreadable["scram"]
    assert evidence["blocking"] == 0 and f"User:{user}" in evidence["seen_principals"]
