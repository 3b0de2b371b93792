"""TLS on both sides with real brokers: clients speak TLS to the proxy, the proxy speaks TLS to each
cluster (with a client certificate: the brokers require one), and a bad connection fails alone.

One cheap module-scoped pair: single-node A and B, each with an SSL listener next to PLAINTEXT
(a 3-node A adds nothing to TLS). Certificates are made in the run by `harness.certs`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import ssl
import struct
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiokafka.helpers
import confluent_kafka
import pytest

from harness import tools
from harness.certs import TestCertificates, make_test_certificates
from harness.cluster import BrokerTls, ClusterSpec, start_clusters, stop_clusters
from harness.mirror import start_mirror
from harness.proxy_process import ProxyProcess, raw_config
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import run_switch, wait_until
from harness.workload_clients import ConfluentConsumer, ConfluentProducer
from harness.workload_verify import verify
from tests.integration import clients
from tests.integration.test_switch import new_topic

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_pair(certs: TestCertificates) -> Iterator[tuple[Any, Any]]:
    broker_tls = BrokerTls(certs.broker.cert, certs.broker.key, certs.ca.cert, client_auth="required")
    a, b = start_clusters([ClusterSpec("tls-A", (1,), tls=broker_tls), ClusterSpec("tls-B", (11,), tls=broker_tls)])
    try:
        yield a, b
    finally:
        stop_clusters([a, b])


def tls_proxy(certs: TestCertificates, pair: tuple[Any, Any], require_client_cert: bool = False,
              client_side_tls: bool = True, **overrides: Any) -> ProxyThread:
    upstream = {"ca_file": str(certs.ca.cert), "cert_file": str(certs.client.cert), "key_file": str(certs.client.key)}
    listener_tls = {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key),
                    "client_ca_file": str(certs.ca.cert), "require_client_cert": require_client_cert}
    config = proxy_config({"A": pair[0].ssl_bootstrap, "B": pair[1].ssl_bootstrap}, "A", max_brokers=2,
                          cluster_settings={"A": {"tls": upstream}, "B": {"tls": upstream}},
                          listeners={"tls": listener_tls} if client_side_tls else {}, **overrides)
    return ProxyThread(config).start()


@pytest.fixture(scope="module")
def proxy(certs: TestCertificates, tls_pair: tuple[Any, Any]) -> Iterator[ProxyThread]:
    admin_tls = {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key)}
    server = tls_proxy(certs, tls_pair, admin={"tls": admin_tls})
    try:
        yield server
    finally:
        server.stop()


def confluent_tls(certs: TestCertificates) -> dict[str, Any]:
    return {"security.protocol": "SSL", "ssl.ca.location": str(certs.ca.cert)}


def test_confluent_kafka_produces_and_consumes_over_tls_both_sides(proxy: ProxyThread,
                                                                   certs: TestCertificates) -> None:
    topic, sent = unique("tls-confluent"), clients.values("c", 200)
    assert clients.confluent_produce(proxy.bootstrap, topic, sent, **confluent_tls(certs)) == 200
    got = clients.confluent_consume(proxy.bootstrap, topic, unique("g"), 200, **confluent_tls(certs))
    assert sorted(got) == sent


def test_kafka_python_produces_and_consumes_over_tls(proxy: ProxyThread, certs: TestCertificates) -> None:
    topic, sent = unique("tls-kafka-python"), clients.values("k", 100)
    conf = {"security_protocol": "SSL", "ssl_cafile": str(certs.ca.cert)}
    assert clients.kafka_python_produce(proxy.bootstrap, topic, sent, **conf) == 100
    assert sorted(clients.kafka_python_consume(proxy.bootstrap, topic, unique("g"), 100, **conf)) == sent


def test_aiokafka_produces_and_consumes_over_tls(proxy: ProxyThread, certs: TestCertificates) -> None:
    topic, sent = unique("tls-aiokafka"), clients.values("a", 100)
    conf = {"security_protocol": "SSL", "ssl_context": aiokafka.helpers.create_ssl_context(cafile=str(certs.ca.cert))}
    assert clients.aiokafka_produce(proxy.bootstrap, topic, sent, **conf) == 100
    assert sorted(clients.aiokafka_consume(proxy.bootstrap, topic, unique("g"), 100, **conf)) == sent


def test_java_clients_produce_and_consume_over_tls(proxy: ProxyThread, certs: TestCertificates,
                                                   tmp_path: Path) -> None:
    """Through a properties file: repeated --command-property flags keep only the last one."""
    topic = unique("tls-java")
    config = tmp_path / "client.properties"
    config.write_text(f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={certs.ca.cert}\n"
                      "acks=all\n")
    produced = tools.run_tool(tools.PRODUCER_PERFORMANCE, [
        "--bootstrap-server", proxy.bootstrap, "--topic", topic, "--num-records", "5000", "--record-size", "200",
        "--throughput", "-1", "--command-config", str(config)], timeout_s=120)
    assert tools.parse_producer_performance(produced.stdout).records == 5_000
    consumed = tools.run_tool(tools.CONSUMER_PERFORMANCE, [
        "--bootstrap-server", proxy.bootstrap, "--topic", topic, "--num-records", "5000",
        "--group", unique("gj"), "--timeout", "60000", "--command-config", str(config)], timeout_s=120)
    assert tools.parse_consumer_performance(consumed.stdout).records == 5_000


def test_mtls_accepts_a_client_certificate_and_refuses_a_client_without_one(
        certs: TestCertificates, tls_pair: tuple[Any, Any]) -> None:
    strict = tls_proxy(certs, tls_pair, require_client_cert=True)
    try:
        topic = unique("tls-mtls")
        with_cert = {**confluent_tls(certs), "ssl.certificate.location": str(certs.client.cert),
                     "ssl.key.location": str(certs.client.key)}
        assert clients.confluent_produce(strict.bootstrap, topic, clients.values("m", 10), **with_cert) == 10
        with pytest.raises(ssl.SSLError):
            handshake(strict.bootstrap, trust=certs.ca.cert, read=True)
        assert clients.confluent_produce(strict.bootstrap, topic, clients.values("n", 10), **with_cert) == 10
    finally:
        strict.stop()


def handshake(bootstrap: str, trust: Path, read: bool = False) -> None:
    """A TLS handshake (and an ApiVersions round trip when `read`) with the proxy's bootstrap port."""
    host, port = bootstrap.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(trust))
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        if read:  # TLS 1.3: a refused client certificate shows on the first read
            tls.sendall(API_VERSIONS_V0)
            if not tls.recv(4):
                raise ssl.SSLError("closed by the proxy")


API_VERSIONS_V0 = struct.pack(">ihhih", 10, 18, 0, 1, 0)


def test_admin_api_serves_https_when_admin_tls_is_set(proxy: ProxyThread, certs: TestCertificates) -> None:
    url = f"https://127.0.0.1:{proxy.server.admin_port}/readyz"
    context = ssl.create_default_context(cafile=str(certs.ca.cert))
    with urllib.request.urlopen(url, context=context, timeout=10) as answer:
        assert answer.status == 200 and answer.read() == b"ready"
    with pytest.raises(OSError):  # URLError, or the connection closed on a plaintext request
        urllib.request.urlopen(url.replace("https", "http"), timeout=10)


def served_certificate(bootstrap: str, trust: Path) -> bytes:
    host, port = bootstrap.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(trust))
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


def test_a_rotated_listener_certificate_reaches_new_handshakes_and_keeps_open_connections(
        certs: TestCertificates, tls_pair: tuple[Any, Any], tmp_path: Path) -> None:
    """A proxy process (the SIGHUP handler lives in `serve`): new files and a SIGHUP (the file watch
    would also see them within 2 s); new handshakes get the new certificate while a client connected
    before keeps working."""
    cert, key = tmp_path / "listener.pem", tmp_path / "listener.key"
    shutil.copy(certs.proxy.cert, cert)
    shutil.copy(certs.proxy.key, key)
    a = tls_pair[0]
    upstream = {"ca_file": str(certs.ca.cert), "cert_file": str(certs.client.cert), "key_file": str(certs.client.key)}
    raw = raw_config({"A": a.ssl_bootstrap}, "A", max_brokers=1,
                     listeners={"tls": {"cert_file": str(cert), "key_file": str(key)}})
    raw["clusters"]["A"]["tls"] = upstream
    process = ProxyProcess(raw).start()
    try:
        producer = confluent_kafka.Producer({"bootstrap.servers": process.bootstrap, **confluent_tls(certs)})
        topic = unique("tls-rotate")
        producer.produce(topic, b"before")
        assert producer.flush(30) == 0
        before = served_certificate(process.bootstrap, certs.ca.cert)
        shutil.copy(certs.broker.cert, cert)  # another certificate of the same CA, same SAN
        shutil.copy(certs.broker.key, key)
        os.kill(process.pid, signal.SIGHUP)
        wait_until(lambda: served_certificate(process.bootstrap, certs.ca.cert) != before, 10,
                   lambda: "the old certificate is still served")
        producer.produce(topic, b"after")
        assert producer.flush(30) == 0  # its connection was made before the rotation
        assert "TLS certificate reloaded" in process.log_tail(200)
    finally:
        process.stop()


def test_untrusted_proxy_certificate_fails_that_client_only(proxy: ProxyThread, certs: TestCertificates) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(proxy.bootstrap, trust=certs.untrusted_ca.cert)
    handshake(proxy.bootstrap, trust=certs.ca.cert, read=True)


def test_plaintext_client_on_the_tls_port_fails_alone(proxy: ProxyThread, certs: TestCertificates) -> None:
    host, port = proxy.bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(API_VERSIONS_V0)
        answer = raw.recv(64)
    assert not answer.startswith(struct.pack(">i", 1))  # never a Kafka answer: a TLS alert or a close
    handshake(proxy.bootstrap, trust=certs.ca.cert, read=True)


def test_tls_client_on_a_plaintext_port_is_refused_as_looking_like_tls(
        certs: TestCertificates, tls_pair: tuple[Any, Any], caplog: pytest.LogCaptureFixture) -> None:
    plain = tls_proxy(certs, tls_pair, client_side_tls=False)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises((ssl.SSLError, ConnectionError)):
            handshake(plain.bootstrap, trust=certs.ca.cert)
        assert "looks like TLS" in caplog.text
        topic = unique("tls-plain-side")
        assert clients.confluent_produce(plain.bootstrap, topic, clients.values("p", 10)) == 10
    finally:
        plain.stop()


def test_upstream_with_an_untrusted_ca_is_unreachable_not_a_crash(
        certs: TestCertificates, tls_pair: tuple[Any, Any]) -> None:
    a = tls_pair[0]
    upstream = {"ca_file": str(certs.untrusted_ca.cert), "cert_file": str(certs.client.cert),
                "key_file": str(certs.client.key)}
    config = proxy_config({"A": a.ssl_bootstrap}, "A", max_brokers=1,
                          cluster_settings={"A": {"tls": upstream}})
    server = ProxyThread(config).start()
    try:
        view = server.call(lambda: server.server.context.view("A"))
        assert not view.reachable and "CERTIFICATE_VERIFY_FAILED" in (view.error or "")
    finally:
        server.stop()


class TlsProducer(ConfluentProducer):
    ca = ""

    def config(self) -> dict[str, Any]:
        return {**super().config(), "security.protocol": "SSL", "ssl.ca.location": self.ca}


class TlsConsumer(ConfluentConsumer):
    ca = ""

    def config(self) -> dict[str, Any]:
        return {**super().config(), "security.protocol": "SSL", "ssl.ca.location": self.ca}


def test_planned_switch_over_tls_loses_nothing_and_duplicates_nothing(
        certs: TestCertificates, tls_pair: tuple[Any, Any]) -> None:
    """Clients on TLS to the proxy, the proxy on TLS to A and B: every check of the switch (mirror
    progress, end offsets, group offsets) goes over the clusters' TLS listeners. MirrorMaker 2
    copies over the PLAINTEXT listeners: it is not the proxy's connection."""
    a, b = tls_pair
    TlsProducer.ca = TlsConsumer.ca = str(certs.ca.cert)
    mirror = start_mirror(a, b, source_alias="A", target_alias="B")
    server = tls_proxy(certs, tls_pair, mirrors=[{"source": "A", "target": "B"}])
    try:
        topic = new_topic(a.bootstrap, "tls-sw-", partitions=3)
        producer = TlsProducer(server.bootstrap, topic, "tls-p", rate=200)
        consumer = TlsConsumer(server.bootstrap, topic, f"g-{topic}", session_timeout_ms=6000)
        consumer.start()
        producer.start()
        try:
            producer.wait_acked(400, 120)
            wait_until(lambda: len(consumer.records) >= 200, 120, lambda: f"consumer: {consumer.errors[-3:]}")
            run = run_switch(server, "B", timeout_s=60)
            producer.wait_acked(len(producer.acks) + 300, 120)
        finally:
            producer.stop()
        try:
            consumer.wait_consumed(producer.acked_values, 120)
        finally:
            consumer.stop()
        verdict = verify(b.bootstrap, topic, [producer], [consumer], run)
    finally:
        server.stop()
        mirror.stop()
    produced, consumed = verdict.producers[0], verdict.consumers[0]
    assert run.outcome == "succeeded", run.record["reason"]
    assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    assert (consumed.unconsumed, consumed.replayed, consumed.offset_resets) == (0, 0, 0)
