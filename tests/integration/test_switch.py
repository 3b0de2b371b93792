"""The switch against real Kafka 4.4 and MirrorMaker 2, through the proxy, with every client library.

Each test runs sequence-numbered load (`harness.workload`) through its own proxy and judges the run
from the target cluster's log and the clients' own records: acknowledged records lost, records
written twice, consumer offset resets and replays, and how long producers waited.

Switches that leave the clusters as they were share the session pair (`cluster_a`, `cluster_b`,
`mirror_ab`), in the production shape: A of nodes 1, 2, 3, B of nodes 11, 12, topics of 6
partitions with replication factor 2 (leaders spread over A's nodes), clients at their default
client.id, producers compressing (each codec once over the libraries) and consumer groups classic
(range, cooperative-sticky) or KIP-848. The tests that pause or stop MirrorMaker or mirror
backwards for failback share a single-node pair of this module's own, in any order (each one
ensures the mirror direction it needs); the emergency switch kills a cluster, so it gets a pair
of its own. A switch moves a proxy, not the clusters, so every switch gets its own proxy, and every
test its own topic and group.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness import workload
from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.mirror import Mirror, start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, running_proxy
from harness.workload import ConsumerWorker, ProducerWorker, SwitchRun, wait_until
from harness.workload_java import JavaTransactionalCopier
from harness.workload_verify import Verdict, read_log, verify
from protocol import schema
from protocol.messages import consumer_group_heartbeat, offset_commit, offset_fetch

pytestmark = pytest.mark.integration

RATE = 200.0
BEFORE = 600  # acknowledgements before the switch: three seconds of load
AFTER = 400  # acknowledgements after the flip
COPIED = 4000  # records the Java transactional copier copies across the switch
SESSION_MS = 6000  # the member a switch leaves behind on the source expires quickly
TOKEN_ENV = "KFP_TEST_TOKEN"
PARTITIONS = 6
REPLICATION = 2


def new_topic(bootstrap: str, prefix: str = "sw-", partitions: int = PARTITIONS) -> str:
    """Six partitions with replication factor 2 where the cluster has two nodes or more."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    brokers = admin.list_topics(timeout=30).brokers
    admin.create_topics([NewTopic(name, partitions, min(REPLICATION, len(brokers)))])[name].result(60)
    for broker in brokers.values():
        address = f"{broker.host}:{broker.port}"
        wait_until(partial(_knows_topic, address, name, partitions), 60,
                   partial(str, f"{address} never listed {name} with every partition led"))
    return name


def _knows_topic(address: str, topic: str, partitions: int) -> bool:
    """Whether the broker behind `address` lists `topic` with a leader for every partition. A consumer
    that joins before its broker knows the topic is assigned nothing, and kafka-python then waits out
    metadata.max.age.ms (5 min) before it looks again."""
    listed = AdminClient({"bootstrap.servers": address, "log_level": 3}).list_topics(topic, timeout=10).topics
    found = listed.get(topic)
    return (found is not None and found.error is None and len(found.partitions) == partitions
            and all(p.leader >= 0 for p in found.partitions.values()))


@contextmanager
def proxy_for(a: Any, b: Any, *, active: str = "A", flows: tuple[tuple[str, str], ...] = (("A", "B"),),
              **overrides: Any) -> Iterator[ProxyThread]:
    mirrors = [{"source": source, "target": target} for source, target in flows]
    with running_proxy({"A": a.bootstrap, "B": b.bootstrap}, active, mirrors=mirrors, **overrides) as proxy:
        yield proxy


def proxy_status(proxy: ProxyThread) -> dict[str, Any]:
    return proxy.call(proxy.server.control.status)


def report(name: str, run: SwitchRun | None, verdict: Verdict) -> None:
    """Print the measurements (shown with -s) and append them to $KFP_SWITCH_REPORT if set."""
    gates = run.record["evidence"]["gates"] if run else {}
    line = json.dumps({"test": name, "phases_ms": run.phases_ms if run else None,
                       "reason": run.record["reason"] if run else None,
                       "gates": {gate: [found["status"], found["detail"]] for gate, found in gates.items()},
                       "consumer_errors": [e for c in verdict.consumers for e in c.errors_sample],
                       **verdict.to_dict()})
    print(line)
    if os.environ.get("KFP_SWITCH_REPORT"):
        with open(os.environ["KFP_SWITCH_REPORT"], "a") as out:
            out.write(line + "\n")


def counters(proxy: ProxyThread, *names: str) -> list[str]:
    """The proxy's Prometheus samples of the counters `names` (for the printed report)."""
    lines = proxy.server.metrics.render().decode().splitlines()
    return [line for line in lines if line.startswith(names) and not line.endswith(" 0.0")]


@dataclass
class Drill:
    producer: ProducerWorker
    consumer: ConsumerWorker
    switch: SwitchRun
    verdict: Verdict
    status: dict[str, Any]


def switch_under_load(proxy: ProxyThread, target: Any, producer_kind: str, consumer_kind: str,
                      isolation_level: str = "read_uncommitted", group_protocol: str = "classic",
                      compression: str | None = None, assignor: str | None = None) -> Drill:
    """Producer and group consumer through `proxy`, a planned switch midway, the verdict from B's log."""
    topic = new_topic(proxy.bootstrap)
    codec = {} if compression is None else {"compression": compression}
    producer = workload.producer(producer_kind, proxy.bootstrap, topic, rate=RATE, **codec)
    consumer = workload.consumer(consumer_kind, proxy.bootstrap, topic, f"g-{topic}",
                                 isolation_level=isolation_level, session_timeout_ms=SESSION_MS,
                                 group_protocol=group_protocol, assignor=assignor)
    consumer.start()
    producer.start()
    try:
        producer.wait_acked(BEFORE, 120)
        wait_until(lambda: len(consumer.records) >= BEFORE // 2, 120, lambda: f"consumer: {consumer.errors[-3:]}")
        run = workload.run_switch(proxy, "B", timeout_s=60)
        producer.wait_acked(len(producer.acks) + AFTER, 120)
    finally:
        producer.stop()
    try:
        consumer.wait_consumed(producer.acked_values, 120)
    finally:
        consumer.stop()
    verdict = verify(target.bootstrap, topic, [producer], [consumer], run, isolation_level=isolation_level)
    report(f"planned-{producer_kind}", run, verdict)
    return Drill(producer, consumer, run, verdict, proxy_status(proxy))


@pytest.fixture(scope="module")
def session_pair(cluster_a: Any, cluster_b: Any, mirror_ab: Mirror) -> tuple[Any, Any]:
    return cluster_a, cluster_b


# -- planned switches under load, one per client library, each in another shape -------------------------


@dataclass(frozen=True)
class Shape:
    """One library's producer codec and consumer group protocol; all clients keep their default client.id."""

    library: str
    compression: str
    group_protocol: str = "classic"
    assignor: str | None = None  # classic only; None is the library's default

    def __str__(self) -> str:
        return f"{self.library}-{self.compression}-{self.assignor or self.group_protocol}"


# Each codec, each classic assignor and KIP-848 once, spread over the libraries (the drill runs the
# full cross-product). kafka-python can only compress with gzip here (no snappy/lz4/zstd package).
SHAPES = [
    Shape("confluent", "zstd", assignor="cooperative-sticky"),
    Shape("kafka-python", "gzip", assignor="range"),
    Shape("aiokafka", "lz4"),
    Shape("java", "snappy", assignor="range"),
    Shape(workload.GO, "snappy", group_protocol="consumer"),  # caches topic ids: virtual ids keep them valid on B
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_planned_switch_under_load_loses_nothing_duplicates_nothing_and_replays_nothing(
        session_pair: tuple[Any, Any], shape: Shape) -> None:
    a, b = session_pair
    with proxy_for(a, b) as proxy:
        drill = switch_under_load(proxy, b, shape.library, shape.library, group_protocol=shape.group_protocol,
                                  compression=shape.compression, assignor=shape.assignor)
    produced, consumed = drill.verdict.producers[0], drill.verdict.consumers[0]
    assert drill.switch.outcome == "succeeded", drill.switch.record["reason"]
    assert (drill.status["active"], drill.status["switch_epoch"]) == ("B", 1)
    assert (produced.fatal, consumed.fatal) == (None, None), drill.consumer.errors[-5:]
    assert produced.acked >= BEFORE + AFTER
    assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    assert consumed.offset_resets == 0, consumed.resets
    assert consumed.unconsumed == 0
    assert consumed.replayed == 0


GROUP_ANSWERS = {8: offset_commit.RESPONSE, 9: offset_fetch.RESPONSE, 68: consumer_group_heartbeat.RESPONSE}


def group_errors(key: int, version: int, body: bytes) -> set[int]:
    """Every error code in a group coordinator's answer (OffsetCommit, OffsetFetch, ConsumerGroupHeartbeat)."""
    answer = schema.decode(GROUP_ANSWERS[key], version, memoryview(body))
    if key == 68:
        return {answer.ErrorCode}
    topics = [*(answer.get("Topics") or []), *(t for g in answer.get("Groups") or [] for t in g.Topics)]
    return ({p.ErrorCode for t in topics for p in t.Partitions} | {answer.get("ErrorCode") or 0}
            | {g.ErrorCode for g in answer.get("Groups") or []})


@contextmanager
def coordinator_errors(proxy: ProxyThread) -> Iterator[Counter[tuple[int, int]]]:
    """(api key, error) of every OffsetCommit, OffsetFetch and ConsumerGroupHeartbeat answer as the
    upstream sent it, before the proxy rewrites anything: what B actually says to a KIP-848 member."""
    seen: Counter[tuple[int, int]] = Counter()

    def tap(is_request: bool, key: int, version: int, body: bytes) -> None:
        if not is_request and key in GROUP_ANSWERS:
            seen.update((key, code) for code in group_errors(key, version, body) if code)

    proxy.call(lambda: setattr(proxy.server.context, "frame_tap", tap))
    try:
        yield seen
    finally:
        proxy.call(lambda: setattr(proxy.server.context, "frame_tap", None))


@pytest.mark.parametrize("library", ["confluent", "java"])  # franz-go's KIP-848 consumer is in SHAPES
def test_planned_switch_with_kip848_consumers_rejoins_on_b_without_a_fatal_error(
        session_pair: tuple[Any, Any], library: str) -> None:
    """`group.protocol=consumer`: B never knew the member (no group, or the classic offsets-only
    group the translated commits created), so it answers the member's next heartbeat with
    GROUP_ID_NOT_FOUND, fatal to Java and librdkafka; the proxy turns it into the fence that makes
    the member rejoin at epoch 0, and the switch sees the rejoin instead of waiting out its window."""
    a, b = session_pair
    with proxy_for(a, b) as proxy, coordinator_errors(proxy) as errors:
        drill = switch_under_load(proxy, b, library, library, group_protocol="consumer")
    print("upstream group errors:", dict(errors))
    produced, consumed = drill.verdict.producers[0], drill.verdict.consumers[0]
    assert drill.switch.outcome == "succeeded", drill.switch.record["reason"]
    assert consumed.fatal is None, drill.consumer.errors[-5:]
    assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    assert (consumed.offset_resets, consumed.replayed, consumed.unconsumed) == (0, 0, 0), consumed.resets
    assert drill.switch.phases_ms["switch"] < 10_000, (drill.switch.phases_ms, dict(errors))


def test_confluent_transactional_producer_crosses_the_switch_without_a_fatal_error(
        session_pair: tuple[Any, Any]) -> None:
    """The transaction open at the flip may be aborted (B does not know A's producer id: librdkafka
    gets INVALID_PRODUCER_ID_MAPPING, aborts and carries on); every committed one is on B once."""
    a, b = session_pair
    with proxy_for(a, b) as proxy:
        drill = switch_under_load(proxy, b, "confluent-transactional", "confluent", "read_committed")
    produced, consumed = drill.verdict.producers[0], drill.verdict.consumers[0]
    assert drill.switch.outcome == "succeeded", drill.switch.record["reason"]
    assert produced.fatal is None, drill.producer.errors
    assert produced.acked >= BEFORE + AFTER
    assert (produced.lost, produced.duplicates, produced.aborted_visible) == (0, 0, 0)
    assert consumed.unconsumed == 0
    assert consumed.replayed == 0


# -- switches that change nothing ----------------------------------------------------------------------


def test_dry_run_checks_every_gate_and_changes_nothing(session_pair: tuple[Any, Any]) -> None:
    a, b = session_pair
    with proxy_for(a, b) as proxy:
        topic = new_topic(proxy.bootstrap)
        producer = workload.producer("confluent", proxy.bootstrap, topic, rate=RATE).start()
        try:
            producer.wait_acked(BEFORE // 2, 120)
            run = workload.run_switch(proxy, "B", dry_run=True, timeout_s=30)
            producer.wait_acked(len(producer.acks) + AFTER // 2, 60)
        finally:
            producer.stop()
        status = proxy_status(proxy)
        refusals = proxy.call(lambda: proxy.server.control.executor.produce_fence.refusals)
    verdict = verify(a.bootstrap, topic, [producer])
    assert run.outcome == "succeeded" and run.record["dry_run"], run.record["reason"]
    assert {gate["status"] for gate in run.record["evidence"]["gates"].values()} <= {"passed", "failed"}
    assert run.record["epoch_after"] is None and run.record["evidence"]["fenced_at_ms"] is None
    assert (status["active"], status["switch_epoch"], status["switch"]["fenced"]) == ("A", 0, False)
    assert refusals == 0
    assert (verdict.lost, verdict.duplicates, verdict.producers[0].errors) == (0, 0, 0)


def _http(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_a_switch_without_the_bearer_token_is_refused_and_audited(
        session_pair: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = session_pair
    monkeypatch.setenv(TOKEN_ENV, "correct-horse")
    audit = tmp_path / "audit.jsonl"
    with proxy_for(a, b, admin={"token_env": TOKEN_ENV, "audit_log": str(audit)}) as proxy:
        switch = f"{proxy.admin_url}/v1/switch"
        without = _http(switch, {"target": "B"})
        wrong = _http(switch, {"target": "B"}, token="wrong-horse")
        status = _http(f"{proxy.admin_url}/v1/status", token="correct-horse")[1]
        accepted = _http(switch, {"target": "B", "dry_run": True}, token="correct-horse")
        wait_until(lambda: _http(f"{switch}/{accepted[1]['switch_id']}", token="correct-horse")[1]["final"], 60,
                   lambda: "dry run never finished")
    assert (without[0], wrong[0]) == (401, 401)
    assert (status["active"], status["switch_epoch"], status["switch"]["phase"]) == ("A", 0, "idle")
    assert accepted[0] == 202  # the same request with the token: the route and the token work
    requests = [entry for entry in map(json.loads, audit.read_text().splitlines())
                if entry["action"] == "switch" and entry["caller"] != "switch"]  # not the switch's own entries
    assert [entry["outcome"] for entry in requests] == ["unauthorized", "unauthorized", "accepted"]


def test_a_group_active_on_the_source_but_not_served_by_the_proxy_does_not_hold_the_switch(
        session_pair: tuple[Any, Any]) -> None:
    """A group whose members talk to A directly (or a member a previous switch left behind) will
    never rejoin through this proxy; waiting for it only keeps the switch open for the rejoin window."""
    a, b = session_pair
    topic = new_topic(a.bootstrap)
    producer = workload.producer("confluent", a.bootstrap, topic, rate=RATE).start()
    direct = workload.consumer("confluent", a.bootstrap, topic, f"direct-{topic}").start()
    try:
        producer.wait_acked(BEFORE // 4, 60)
        producer.stop()
        direct.wait_consumed(producer.acked_values, 60)
        with proxy_for(a, b) as proxy:
            run = workload.run_switch(proxy, "B", timeout_s=60)
    finally:
        producer.stop()
        direct.stop()
    assert run.outcome == "succeeded", run.record["reason"]
    assert "rejoin window over" not in run.record["reason"]
    assert run.phases_ms["switch"] < 10_000


# -- Java transactions: a documented gap --------------------------------------------------------------


def wait_copied(copier: JavaTransactionalCopier, stall_s: float = 90) -> None:
    """Until the copier exits; fails only if it commits nothing for `stall_s` (a loaded machine copies
    slowly, a stuck copier not at all)."""
    def moved_past(seen: int) -> bool:
        return copier.exit_code is not None or copier.processed > seen

    while copier.exit_code is None:
        seen = copier.processed
        wait_until(partial(moved_past, seen), stall_s,
                   lambda: f"copier stalled: {copier.processed} processed, {copier.remaining} remaining, "
                           f"errors {copier.errors[-3:]}")


def test_java_transactional_copier_crosses_the_switch_exactly_once(session_pair: tuple[Any, Any]) -> None:
    """Kafka's TransactionalMessageCopier (Java 4.4, transaction version 2, input offsets committed inside
    each transaction) copies a topic while the switch happens: every input value is in B's output
    exactly once, and the producer carries on with a producer id from B (its transaction under way
    at the flip aborted, its abort re-initialised it: proxy.switch.machine.producer_ids)."""
    a, b = session_pair
    with proxy_for(a, b) as proxy:
        source, output = new_topic(proxy.bootstrap, partitions=1), new_topic(proxy.bootstrap, partitions=1)
        producer = workload.producer("confluent", proxy.bootstrap, source, rate=3000).start()
        try:
            producer.wait_acked(COPIED, 60)
        finally:
            producer.stop()
        copier = JavaTransactionalCopier(proxy.bootstrap, source, output, f"g-{output}",
                                         transaction_timeout_ms=10_000).start()
        try:
            copier.wait_processed(COPIED // 4, 120)
            run = workload.run_switch(proxy, "B", timeout_s=60)
            wait_copied(copier)
        finally:
            copier.stop()
        producer_ids = proxy.server.control.executor.interceptor.producer_ids
        issuer = proxy.call(lambda: producer_ids.issued_by(f"txn-g-{output}"))
        answered = counters(proxy, "kfp_fenced_requests_total", "kfp_rewrites_total")
        print(json.dumps({"test": "java-transactional", "phases_ms": run.phases_ms, "processed": copier.processed,
                          "answered_by_the_switch": answered}))
    copies = Counter(value for records in read_log(b.bootstrap, output, "read_committed").values()
                     for _, value in records)
    assert run.outcome == "succeeded", run.record["reason"]
    assert copier.exit_code == 0, copier.errors
    assert copier.processed >= COPIED // 4  # the switch happened with the copy under way
    assert issuer == "B"
    assert set(copies) == producer.acked_values
    assert max(copies.values()) == 1


# -- this module's own pair: MirrorMaker paused, stopped, reversed; a cluster killed -------------------


class Mirrors:
    """At most one MirrorMaker per direction on the module's pair, never both directions at once."""

    def __init__(self, clusters: dict[str, Cluster]) -> None:
        self.clusters = clusters
        self.running: dict[tuple[str, str], Mirror] = {}

    def ensure(self, source: str, target: str) -> Mirror:
        """Every topic: the proxy's mirror gate expects the mirror to copy every non-internal topic."""
        self.stop(target, source)
        mirror = self.running.get((source, target))
        if mirror is None or not mirror.process.alive():
            mirror = start_mirror(self.clusters[source], self.clusters[target], source_alias=source,
                                  target_alias=target)
            self.running[(source, target)] = mirror
        return mirror

    def stop(self, source: str, target: str) -> None:
        mirror = self.running.pop((source, target), None)
        if mirror is not None:
            mirror.stop()

    def stop_all(self) -> None:
        for source, target in list(self.running):
            self.stop(source, target)


@contextmanager
def paused(mirror: Mirror) -> Iterator[None]:
    """MirrorMaker frozen in place (SIGSTOP): it copies nothing and commits nothing until resumed."""
    os.kill(mirror.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(mirror.pid, signal.SIGCONT)


@dataclass
class OwnPair:
    a: Cluster
    b: Cluster
    mirrors: Mirrors


@contextmanager
def new_pair() -> Iterator[OwnPair]:
    a, b = start_clusters([ClusterSpec("A", (1,)), ClusterSpec("B", (1,))])
    pair = OwnPair(a, b, Mirrors({"A": a, "B": b}))
    try:
        yield pair
    finally:
        pair.mirrors.stop_all()
        stop_clusters([a, b])


@pytest.fixture(scope="module")
def own_pair(kafka_jars: Any) -> Iterator[OwnPair]:
    with new_pair() as pair:
        yield pair


@pytest.fixture
def doomed_pair(kafka_jars: Any) -> Iterator[OwnPair]:
    """A pair for one test that kills one of its clusters."""
    with new_pair() as pair:
        yield pair


def at_wall(run: SwitchRun, ms: int) -> float:
    """A proxy-clock millisecond of `run`'s record on the wall clock."""
    return run.called_at + (ms - int(run.record["requested_at_ms"])) / 1000


def test_switch_aborts_when_mirrormaker_is_stopped_and_producers_carry_on_on_a(own_pair: OwnPair) -> None:
    a, b = own_pair.a, own_pair.b
    mirror = own_pair.mirrors.ensure("A", "B")
    with proxy_for(a, b) as proxy:
        topic = new_topic(proxy.bootstrap)
        producer = workload.producer("confluent", proxy.bootstrap, topic, rate=RATE).start()
        try:
            producer.wait_acked(BEFORE // 2, 120)
            wait_for_records(b.bootstrap, topic, BEFORE // 2)
            with paused(mirror):
                producer.wait_acked(len(producer.acks) + AFTER // 2, 60)  # B lags now
                run = workload.run_switch(proxy, "B", timeout_s=5)
                producer.wait_acked(len(producer.acks) + AFTER // 2, 60)
        finally:
            producer.stop()
        status = proxy_status(proxy)
    verdict = verify(a.bootstrap, topic, [producer])
    assert run.outcome == "aborted"
    assert "mirror" in (run.record["reason"] or ""), run.record["reason"]
    assert run.record["epoch_after"] is None
    assert (status["active"], status["switch_epoch"], status["switch"]["fenced"]) == ("A", 0, False)
    aborted_at = at_wall(run, run.record["finished_at_ms"])
    assert sum(ack.at > aborted_at for ack in producer.acks) >= AFTER // 2  # still writing to A
    assert (verdict.lost, verdict.duplicates, verdict.producers[0].fatal) == (0, 0, None)


def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    admin.delete_topics([topic])[topic].result(60)
    wait_until(lambda: topic not in admin.list_topics(timeout=30).topics, 60, lambda: f"{topic} not deleted")


def test_failback_moves_clients_back_to_a_through_a_b_to_a_mirror(own_pair: OwnPair) -> None:
    """The runbook: switch to B; stop A->B; drop A's now stale copy of the topics (a B->A mirror
    would copy B's whole log onto it again); start B->A; when it has caught up, switch back."""
    a, b = own_pair.a, own_pair.b
    own_pair.mirrors.ensure("A", "B")
    with proxy_for(a, b, flows=(("A", "B"), ("B", "A"))) as proxy:
        topic = new_topic(proxy.bootstrap)
        producer = workload.producer("confluent", proxy.bootstrap, topic, rate=RATE)
        consumer = workload.consumer("confluent", proxy.bootstrap, topic, f"g-{topic}",
                                     session_timeout_ms=SESSION_MS)
        consumer.start()
        producer.start()
        try:
            producer.wait_acked(BEFORE // 2, 120)
            away = workload.run_switch(proxy, "B", timeout_s=60)
            producer.wait_acked(len(producer.acks) + AFTER // 2, 60)
            own_pair.mirrors.stop("A", "B")
            delete_topic(a.bootstrap, topic)
            own_pair.mirrors.ensure("B", "A")
            back = workload.run_switch(proxy, "A", timeout_s=120)
            producer.wait_acked(len(producer.acks) + AFTER // 2, 60)
        finally:
            producer.stop()
        try:
            consumer.wait_consumed(producer.acked_values, 120)
        finally:
            consumer.stop()
        status = proxy_status(proxy)
    verdict = verify(a.bootstrap, topic, [producer], [consumer], back)
    report("failback", back, verdict)
    produced, consumed = verdict.producers[0], verdict.consumers[0]
    assert (away.outcome, back.outcome) == ("succeeded", "succeeded"), back.record["reason"]
    assert (status["active"], status["switch_epoch"]) == ("A", 2)
    assert (produced.lost, produced.duplicates, produced.fatal) == (0, 0, None), produced.lost_sample
    assert (consumed.unconsumed, consumed.offset_resets, consumed.replayed) == (0, 0, 0), consumed.resets


def wait_mirror_caught_up(proxy: ProxyThread, target: str) -> SwitchRun:
    """Dry runs until the mirror gate passes: MM2 has copied and committed every record."""
    deadline = time.monotonic() + 90
    while True:
        run = workload.run_switch(proxy, target, dry_run=True, timeout_s=20)
        if run.record["evidence"]["gates"]["mirror"]["status"] == "passed" or time.monotonic() > deadline:
            return run
        time.sleep(1)


def test_emergency_switch_with_the_active_cluster_killed_loses_exactly_the_reported_tail(
        doomed_pair: OwnPair) -> None:
    """B is active, mirrored to A. MM2 copies a first producer's records, then stops; a second
    producer's records are acknowledged on B only; the proxy observes the mirror (a dry run) and B
    dies: what is missing on A is exactly the tail the switch reports."""
    a, b = doomed_pair.a, doomed_pair.b
    mirror = doomed_pair.mirrors.ensure("B", "A")
    with proxy_for(a, b, active="B", flows=(("B", "A"),), switch={"fetch_hold_timeout_s": 5}) as proxy:
        topic = new_topic(proxy.bootstrap)
        copied, lagging, survivor = (workload.producer("confluent", proxy.bootstrap, topic, rate=RATE)
                                     for _ in range(3))
        try:
            copied.start().wait_acked(BEFORE // 2, 120)
            copied.stop()
            gates = wait_mirror_caught_up(proxy, "A").record["evidence"]["gates"]
            assert gates["mirror"]["status"] == "passed", gates["mirror"]["detail"]
            mirror.kill()
            lagging.start().wait_acked(AFTER // 2, 60)
            lagging.stop()
            workload.run_switch(proxy, "A", dry_run=True, timeout_s=20)  # the proxy observes the tail
            b.kill()
            run = workload.run_switch(proxy, "A", mode="emergency", timeout_s=30)
            survivor.start().wait_acked(AFTER // 2, 120)
        finally:
            for producer in (copied, lagging, survivor):
                producer.stop()
    verdict = verify(a.bootstrap, topic, [copied, lagging, survivor], switch=run)
    report("emergency", run, verdict)
    tail = run.record["evidence"]["emergency_tail"]
    assert run.outcome == "succeeded", run.record["reason"]
    assert tail["unknown_partitions"] == 0
    assert [p.lost for p in verdict.producers] == [0, tail["total_known"], 0]
    assert tail["total_known"] == verdict.producers[1].acked
    assert verdict.duplicates == 0
