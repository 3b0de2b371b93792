"""A planned switch over SASL_SSL with MirrorMaker 2, held by the governance gate until B has the ACL.

One module-scoped pair of single-node clusters with the StandardAuthorizer and a SASL_SSL listener
(certificates made in the run, SCRAM users `alice` and `kfp` formatted into both). `kfp` is the
service principal of the proxy and of MM2, a super user like the harness's PLAINTEXT
User:ANONYMOUS; MM2 reaches A and B on their SASL_SSL listeners only. Clients speak TLS + SCRAM to
the proxy, which relays their SASL exchange to the active cluster (passthrough).

A switch A -> B happens once, so the module's story runs once, in the order an operator meets it,
with a confluent-kafka, a Java, a kafka-python and an aiokafka producer and a confluent group
consumer (all `alice`, SCRAM over TLS) running throughout: A grants alice READ on the topic and B
does not, so the planned switch is refused (409, the ACL named, audited, nothing switched); a dry
run with `accept_governance_gaps` passes the gate and the accepted gap is audited; the READ ACL is
added on B and the same planned switch succeeds.
Each test below judges one part of that story.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.helpers import create_ssl_context

from harness.certs import TestCertificates, make_test_certificates
from harness.cluster import BrokerTls, Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.governance import AUTHORIZER_OVERRIDES, create_acls, topic_acl
from harness.mirror import Mirror, client_configs, scram_over_tls, start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, proxy_config
from harness.workload import ProducerWorker, SwitchRun, wait_until
from harness.workload_clients import AiokafkaProducer, ConfluentConsumer, ConfluentProducer, KafkaPythonProducer
from harness.workload_java import JavaProducer, JavaTool
from harness.workload_verify import Verdict, verify
from proxy.sasl.scram import format_entry, make_credential
from tests.integration.admin_http import admin_call
from tests.integration.test_switch import new_topic

pytestmark = pytest.mark.integration

USERS = {"alice": "alice-secret-pw", "kfp": "kfp-service-secret"}
MECHANISM = "SCRAM-SHA-512"
TOKEN = "operate-horse"
RATE = 100.0
BEFORE, AFTER = 300, 300  # acknowledgements per producer before the first switch request, after the flip


@dataclass(frozen=True)
class Site:
    """The pair, its mirror and the proxy in front, with the files the story reads back."""

    a: Cluster
    b: Cluster
    mirror: Mirror
    proxy: ProxyThread
    certs: TestCertificates
    audit: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    files = tmp_path_factory.mktemp("sasl-ssl")
    certs = make_test_certificates(files / "certs")
    tls = BrokerTls(certs.broker.cert, certs.broker.key, certs.ca.cert)
    governed = {**AUTHORIZER_OVERRIDES, "super.users": "User:ANONYMOUS;User:kfp"}
    a, b = start_clusters([ClusterSpec("sslsasl-A", (1,), governed, USERS, tls),
                           ClusterSpec("sslsasl-B", (11,), governed, USERS, tls)])
    mirror: Mirror | None = None
    proxy: ProxyThread | None = None
    try:
        mirror = start_mirror(a, b, overrides={
            **scram_over_tls("A", a.sasl_ssl_bootstrap, "kfp", USERS["kfp"], certs.ca.cert, MECHANISM),
            **scram_over_tls("B", b.sasl_ssl_bootstrap, "kfp", USERS["kfp"], certs.ca.cert, MECHANISM)})
        proxy = ProxyThread(site_config(a, b, certs, files)).start()
        yield Site(a, b, mirror, proxy, certs, files / "audit.jsonl")
    finally:
        if proxy is not None:
            proxy.stop()
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])


def site_config(a: Cluster, b: Cluster, certs: TestCertificates, files: Path,
                client_sasl: dict[str, Any] | None = None) -> Any:
    """The proxy: TLS + SASL towards clients (passthrough unless `client_sasl` says otherwise);
    towards each cluster its CA and `kfp`'s login."""
    (files / "kfp.password").write_text(USERS["kfp"] + "\n")
    (files / "operate.token").write_text(TOKEN + "\n")
    upstream = {"tls": {"ca_file": str(certs.ca.cert)},
                "sasl": {"mechanism": MECHANISM, "username": "kfp", "password_file": str(files / "kfp.password")}}
    listeners = {"tls": {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key)},
                 "sasl": client_sasl or {"mode": "passthrough"}}
    return proxy_config({"A": a.sasl_ssl_bootstrap, "B": b.sasl_ssl_bootstrap}, "A", max_brokers=2,
                        cluster_settings={"A": upstream, "B": upstream}, listeners=listeners,
                        mirrors=[{"source": "A", "target": "B"}],
                        admin={"operate_token_file": str(files / "operate.token"),
                               "audit_log": str(files / "audit.jsonl")})


def alice(ca: str) -> dict[str, Any]:
    """librdkafka's settings for alice's SCRAM login over TLS."""
    return {"security.protocol": "SASL_SSL", "sasl.mechanism": MECHANISM, "sasl.username": "alice",
            "sasl.password": USERS["alice"], "ssl.ca.location": ca}


class AliceProducer(ConfluentProducer):
    ca = ""

    def config(self) -> dict[str, Any]:
        return {**super().config(), **alice(self.ca)}


class AliceConsumer(ConfluentConsumer):
    ca = ""

    def config(self) -> dict[str, Any]:
        return {**super().config(), **alice(self.ca)}


ALICE_PYTHON = {"security_protocol": "SASL_SSL", "sasl_mechanism": MECHANISM, "sasl_plain_username": "alice",
                "sasl_plain_password": USERS["alice"]}
"""kafka-python's and aiokafka's names for alice's login; both verify the proxy's certificate and host name."""


class AliceKafkaPythonProducer(KafkaPythonProducer):
    ca = ""

    def options(self) -> dict[str, Any]:
        return {**ALICE_PYTHON, "ssl_cafile": self.ca}


class AliceAiokafkaProducer(AiokafkaProducer):
    ca = ""

    def options(self) -> dict[str, Any]:
        return {**ALICE_PYTHON, "ssl_context": create_ssl_context(cafile=self.ca)}


class AliceJavaProducer(JavaProducer):
    ca = ""

    def make_tool(self) -> JavaTool:
        tool = super().make_tool()
        jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                f'username="alice" password="{USERS["alice"]}";')
        tool.properties.update({"security.protocol": "SASL_SSL", "sasl.mechanism": MECHANISM,
                                "sasl.jaas.config": jaas, "ssl.truststore.type": "PEM",
                                "ssl.truststore.location": self.ca})
        return tool


def http(site: Site | ProxyThread, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """The admin API of the site's proxy, or of another proxy in front of the same pair."""
    proxy = site.proxy if isinstance(site, Site) else site
    return admin_call(proxy.admin_url, path, body, TOKEN)


def final_record(site: Site | ProxyThread, switch_id: str, timeout_s: float = 180) -> dict[str, Any]:
    wait_until(lambda: http(site, f"/v1/switch/{switch_id}")[1].get("final", False), timeout_s,
               lambda: f"switch {switch_id} not final after {timeout_s:.0f} s")
    record: dict[str, Any] = http(site, f"/v1/switch/{switch_id}")[1]
    return record


def trust_the_test_ca(site: Site) -> None:
    for kind in (AliceProducer, AliceConsumer, AliceJavaProducer, AliceKafkaPythonProducer, AliceAiokafkaProducer):
        kind.ca = str(site.certs.ca.cert)


@dataclass(frozen=True)
class Story:
    topic: str
    refused: tuple[int, Any]
    active_after_refusal: str
    overridden: tuple[int, Any]
    overridden_record: dict[str, Any]
    accepted: tuple[int, Any]
    run: SwitchRun
    active_after_switch: str
    verdict: Verdict
    audit: list[dict[str, Any]]


@pytest.fixture(scope="module")
def story(site: Site) -> Story:
    topic = new_topic(site.a.bootstrap, "sslsasl-", partitions=3)
    grants = [topic_acl("User:alice", topic, operation) for operation in ("READ", "WRITE", "DESCRIBE")]
    create_acls(site.a.bootstrap, grants)
    create_acls(site.b.bootstrap, grants[1:])  # B lacks READ: alice's consumers would be refused there
    trust_the_test_ca(site)
    producers: list[ProducerWorker] = [AliceProducer(site.proxy.bootstrap, topic, "c", RATE),
                                       AliceJavaProducer(site.proxy.bootstrap, topic, "j", RATE),
                                       AliceKafkaPythonProducer(site.proxy.bootstrap, topic, "k", RATE),
                                       AliceAiokafkaProducer(site.proxy.bootstrap, topic, "a", RATE)]
    consumer = AliceConsumer(site.proxy.bootstrap, topic, f"g-{topic}", session_timeout_ms=6000).start()
    for producer in producers:
        producer.start()
    try:
        for producer in producers:
            producer.wait_acked(BEFORE, 180)
        wait_until(lambda: len(consumer.records) >= BEFORE, 120, lambda: f"consumer: {consumer.errors[-3:]}")
        wait_for_records(site.b.bootstrap, topic, BEFORE)  # MM2 copies over SASL_SSL
        refused = http(site, "/v1/switch", {"target": "B"})
        active_after_refusal = http(site, "/v1/status")[1]["active"]
        overridden = http(site, "/v1/switch", {"target": "B", "dry_run": True, "accept_governance_gaps": True})
        overridden_record = final_record(site, overridden[1].get("switch_id", "none"))
        create_acls(site.b.bootstrap, grants[:1])
        called_at = time.time()
        accepted = http(site, "/v1/switch", {"target": "B"})
        record = final_record(site, accepted[1].get("switch_id", "none"))
        for producer in producers:
            producer.wait_acked(len(producer.acks) + AFTER, 180)
    finally:
        for producer in producers:
            producer.stop()
    try:
        consumer.wait_consumed(set().union(*(p.acked_values for p in producers)), 180)
    finally:
        consumer.stop()
    phases = {p["phase"]: p["duration_ms"] for p in record.get("phases", ()) if p["duration_ms"] is not None}
    run = SwitchRun(accepted[1]["switch_id"], record, called_at, phases)
    return Story(topic, refused, active_after_refusal, overridden, overridden_record, accepted, run,
                 http(site, "/v1/status")[1]["active"], verify(site.b.bootstrap, topic, producers, [consumer], run),
                 [json.loads(line) for line in site.audit.read_text().splitlines()])


def admin_switch_requests(story: Story) -> list[dict[str, Any]]:
    """The admin API's switch entries, not the switch's own progress entries."""
    return [entry for entry in story.audit if entry["action"] == "switch" and entry["caller"] != "switch"]


def test_the_gate_refuses_a_planned_switch_to_a_b_without_alices_read_acl(story: Story) -> None:
    status, answer = story.refused
    assert status == 409, answer
    assert f"User:alice READ on TOPIC literal '{story.topic}'" in answer["error"]
    assert "acl_missing_on_target" in answer["error"] and "WRITE" not in answer["error"]
    assert story.active_after_refusal == "A"
    refused = admin_switch_requests(story)[0]
    assert (refused["outcome"], refused["parameters"]["accept_governance_gaps"]) == ("rejected", False)
    assert f"User:alice READ on TOPIC literal '{story.topic}'" in refused["evidence"]["reason"]


def test_the_override_passes_the_gate_and_the_accepted_gap_is_audited(story: Story) -> None:
    status, answer = story.overridden
    assert status == 202, answer
    assert answer["governance_gaps_accepted"] == [
        f"acl_missing_on_target ALLOW User:alice READ on TOPIC literal '{story.topic}' from *"]
    entry = admin_switch_requests(story)[1]
    assert (entry["outcome"], entry["parameters"]["accept_governance_gaps"]) == ("accepted", True)
    assert entry["evidence"]["governance_gaps_accepted"] == answer["governance_gaps_accepted"]
    assert story.overridden_record["dry_run"] and story.overridden_record["outcome"] == "succeeded"
    assert story.overridden_record["evidence_governance"]["accepted_gaps"] is True


def test_once_b_has_the_acl_the_same_switch_is_accepted_without_an_override(story: Story) -> None:
    status, answer = story.accepted
    assert status == 202, answer
    assert "governance_gaps_accepted" not in answer
    entry = admin_switch_requests(story)[2]
    assert (entry["outcome"], entry["parameters"]["accept_governance_gaps"]) == ("accepted", False)
    governance = story.run.record["evidence_governance"]
    assert governance["blocking"] == 0 and governance["accepted_gaps"] is False
    assert "User:alice" in governance["principals"]


def test_the_planned_switch_over_sasl_ssl_loses_and_duplicates_nothing(story: Story) -> None:
    """For every library's producer: confluent-kafka, Java, kafka-python and aiokafka."""
    assert story.run.outcome == "succeeded", story.run.record.get("reason")
    assert story.active_after_switch == "B"
    assert len(story.verdict.producers) == 4
    for produced in story.verdict.producers:
        assert produced.acked >= BEFORE + AFTER
        assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    consumed = story.verdict.consumers[0]
    print(json.dumps({"phases_ms": story.run.phases_ms, "verdict": story.verdict.to_dict()}, default=str))
    assert (consumed.unconsumed, consumed.replayed, consumed.offset_resets) == (0, 0, 0), consumed


def test_mirror_maker_reaches_both_clusters_over_sasl_ssl_only(site: Site) -> None:
    """Every Kafka client MM2 opened (source reads, target writes, the worker's internal topics,
    admins) speaks SASL_SSL to a SASL_SSL listener: none is left on a default PLAINTEXT."""
    configs = client_configs(site.mirror.process.log_path.read_text())
    assert {c["kind"] for c in configs} == {"ProducerConfig", "ConsumerConfig", "AdminClientConfig"}
    assert {c["security.protocol"] for c in configs} == {"SASL_SSL"}
    assert {c["sasl.mechanism"] for c in configs} == {MECHANISM}
    listeners = {f"[{address}]" for address in (site.a.sasl_ssl_bootstrap, site.b.sasl_ssl_bootstrap)}
    assert {c["bootstrap.servers"] for c in configs} == listeners


@pytest.fixture(scope="module")
def terminating_proxy(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyThread]:
    """A second proxy in front of the same pair and MM2 that authenticates alice itself (its own
    credentials file) and logs in to each cluster as `kfp`: its own switch state, starting on A."""
    files = tmp_path_factory.mktemp("sasl-ssl-terminate")
    users = files / "users.scram"
    users.write_text(format_entry("alice", make_credential(MECHANISM, USERS["alice"])) + "\n")
    proxy = ProxyThread(site_config(site.a, site.b, site.certs, files,
                                    {"mode": "terminate", "credentials_file": str(users)})).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def test_a_planned_switch_with_logins_terminated_at_the_proxy_loses_and_duplicates_nothing(
        site: Site, terminating_proxy: ProxyThread) -> None:
    """Termination across a planned switch: the proxy keeps authenticating alice itself, and after
    the flip its upstream connections log in to B with B's service login.

    The switch passes `accept_governance_gaps`: the story's READ ACL may be missing on B at this
    moment (the test order is random), and the gate is the story's subject, not this test's.
    """
    trust_the_test_ca(site)
    topic = new_topic(site.a.bootstrap, "sslterm-", partitions=3)
    bootstrap = terminating_proxy.bootstrap
    producers: list[ProducerWorker] = [AliceProducer(bootstrap, topic, "tc", RATE),
                                       AliceKafkaPythonProducer(bootstrap, topic, "tk", RATE)]
    consumer = AliceConsumer(bootstrap, topic, f"g-{topic}", session_timeout_ms=6000).start()
    for producer in producers:
        producer.start()
    try:
        for producer in producers:
            producer.wait_acked(BEFORE, 180)
        wait_until(lambda: len(consumer.records) >= BEFORE, 120, lambda: f"consumer: {consumer.errors[-3:]}")
        wait_for_records(site.b.bootstrap, topic, BEFORE)
        called_at = time.time()
        status, answer = http(terminating_proxy, "/v1/switch", {"target": "B", "accept_governance_gaps": True})
        assert status == 202, answer
        record = final_record(terminating_proxy, answer["switch_id"])
        for producer in producers:
            producer.wait_acked(len(producer.acks) + AFTER, 180)
    finally:
        for producer in producers:
            producer.stop()
    try:
        consumer.wait_consumed(set().union(*(p.acked_values for p in producers)), 180)
    finally:
        consumer.stop()
    phases = {p["phase"]: p["duration_ms"] for p in record.get("phases", ()) if p["duration_ms"] is not None}
    run = SwitchRun(answer["switch_id"], record, called_at, phases)
    assert run.outcome == "succeeded", record.get("reason")
    assert http(terminating_proxy, "/v1/status")[1]["active"] == "B"
    verdict = verify(site.b.bootstrap, topic, producers, [consumer], run)
    print(json.dumps({"phases_ms": phases, "verdict": verdict.to_dict()}, default=str))
    for produced in verdict.producers:
        assert produced.acked >= BEFORE + AFTER
        assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    consumed = verdict.consumers[0]
    assert (consumed.unconsumed, consumed.replayed, consumed.offset_resets) == (0, 0, 0), consumed
    assert "User:alice" in http(terminating_proxy, "/v1/status")[1]["seen_principals"]["names"]
