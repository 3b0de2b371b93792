"""MirrorMaker 2 in dedicated mode, one way (source -> target), with names and offsets kept usable.

The proxy's planned failover relies on three MM2 properties, all off or slow by default:
identical topic names (IdentityReplicationPolicy), consumer group offsets translated onto the target
(checkpoints + group sync every second, `offset.lag.max=0` so a caught-up group translates exactly),
and all MM2 state on the target (`offset-syncs.topic.location=target`), so the source can vanish.
Topics MM2 creates (mirrored topics, its own state) get replication factor 2 on a multi-node target.
The source consumer reads committed data only and the producer into the target is not idempotent, so
the target never sees aborted records and MM2's producer ids cannot collide with the clients' ones.

Aliases default to A and B; start `start_mirror(b, a, source_alias="B", target_alias="A")` for
failback. Never run both directions at once on the same topics: the identity policy cannot detect
cycles. The MM2 jars are connect-mirror 4.3.1 (4.4.0 is not on Maven Central; see pom.xml).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from harness import jvm, processes
from harness.cluster import Cluster
from harness.jars import resolve
from harness.processes import STOP_GRACE_S, ManagedProcess
from harness.retriable import or_else

MIRROR_HEAP = ("-Xms64m", "-Xmx384m")
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
READY_TIMEOUT_S = 240.0  # five brokers and MM2 on a loaded 2-core machine: 85-130 s seen


def bootstrap_of(cluster: Cluster | str) -> str:
    return cluster if isinstance(cluster, str) else cluster.bootstrap


def mm2_properties(source: str, target: str, source_bootstrap: str, target_bootstrap: str,
                   topics: str = ".*", groups: str = ".*") -> dict[str, str]:
    """Reference section 5, parametrised by alias; only `source->target` is enabled."""
    flow, reverse = f"{source}->{target}", f"{target}->{source}"
    settings = {
        "clusters": f"{source}, {target}",
        f"{source}.bootstrap.servers": source_bootstrap,
        f"{target}.bootstrap.servers": target_bootstrap,
        f"{flow}.enabled": "true",
        f"{flow}.topics": topics,
        f"{flow}.groups": groups,
        f"{reverse}.enabled": "false",
        f"{reverse}.emit.heartbeats.enabled": "false",
        "replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        "emit.checkpoints.enabled": "true",
        "emit.checkpoints.interval.seconds": "1",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "1",
        "groups": groups,
        "offset.lag.max": "0",
        "offset-syncs.topic.location": "target",
        "refresh.topics.interval.seconds": "1",
        "refresh.groups.interval.seconds": "1",
        "emit.heartbeats.interval.seconds": "1",
        "sync.topic.acls.enabled": "false",
        "sync.topic.configs.enabled": "true",
        "dedicated.mode.enable.internal.rest": "false",
        "tasks.max": "1",
        f"{target}.offset.flush.interval.ms": "250",  # releases offset syncs sooner: shorter catch-up
        f"{target}.scheduled.rebalance.max.delay.ms": "0",
        f"{source}.consumer.isolation.level": "read_committed",
        f"{target}.producer.enable.idempotence": "false",
        f"{target}.producer.max.in.flight.requests.per.connection": "1",
        f"{target}.producer.acks": "all",
    }
    replication = str(min(2, len(target_bootstrap.split(","))))  # every topic MM2 creates is on the target
    for key in ("replication.factor", "checkpoints.topic.replication.factor",
                "heartbeats.topic.replication.factor", "offset-syncs.topic.replication.factor",
                "offset.storage.replication.factor", "status.storage.replication.factor",
                "config.storage.replication.factor"):
        settings[key] = replication
    return settings


def scram_over_tls(alias: str, bootstrap: str, username: str, password: str, ca_file: Path,
                   mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
    """Settings (for `start_mirror`'s overrides) that make MM2 talk SASL_SSL + SCRAM to cluster `alias`.

    MM2 copies every `<alias>.` client setting into the producer, consumer and admin configs of
    whatever talks to that cluster: the source connector's reads, the target's writes and its
    Connect worker's internal topics (offsets, configs, status), checkpoints and offset syncs. So
    `bootstrap` must be the SASL_SSL listeners only: a client left on PLAINTEXT would fail there.
    """
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{username}" '
            f'password="{password}";')
    settings = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanism": mechanism,
                "sasl.jaas.config": jaas, "ssl.truststore.type": "PEM", "ssl.truststore.location": str(ca_file)}
    return {f"{alias}.{key}": value for key, value in settings.items()}


CLIENT_CONFIG_HEADERS = ("ProducerConfig values:", "ConsumerConfig values:", "AdminClientConfig values:")


def client_configs(log_text: str) -> list[dict[str, str]]:
    """The config of every Kafka client MM2 opened, as its log prints them (`XConfig values:` and one
    tab-indented `key = value` per line), with `kind` the client's config class."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in log_text.splitlines():
        header = next((h for h in CLIENT_CONFIG_HEADERS if line.rstrip().endswith(h)), None)
        if header is not None:
            current = {"kind": header.split()[0]}
            found.append(current)
        elif current is not None and line.startswith("\t") and " = " in line:
            key, _, value = line.strip().partition(" =")  # an empty value leaves no space after '='
            current[key] = value.strip()
        else:
            current = None
    return found


class Mirror:
    """A running MirrorMaker 2 process replicating `source_alias` into `target_alias`."""

    def __init__(self, process: ManagedProcess, workdir: Path, source_alias: str, target_alias: str,
                 source_bootstrap: str, target_bootstrap: str, relaunch: Callable[[], Mirror] | None = None) -> None:
        self.process = process
        self._relaunch = relaunch
        self.workdir = workdir
        self.source_alias = source_alias
        self.target_alias = target_alias
        self.source_bootstrap = source_bootstrap
        self.target_bootstrap = target_bootstrap

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        processes.stop_many([self.process], grace_s)

    def restart(self) -> None:
        """Stop this MirrorMaker and start a fresh one with the same settings, in place: every holder
        of this object (a session fixture's users) then sees the new process. A second MM2 with the
        same aliases must never run beside the first instead: it joins the first one's Connect group,
        and without the internal REST API neither worker can reconfigure its tasks, so new topics
        stop being copied."""
        if self._relaunch is None:
            raise MirrorError("this MirrorMaker was not started by start_mirror and cannot be restarted")
        self.stop()
        fresh = self._relaunch()
        self.process, self.workdir = fresh.process, fresh.workdir

    def kill(self) -> None:
        processes.kill_many([self.process])

    def log_tail(self, lines: int = 40) -> str:
        return f"--- mirror {self.source_alias}->{self.target_alias} ({self.process.log_path}) ---\n" \
            + self.process.log_tail(lines)

    def wait_running(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until the source connector has created its offset-syncs topic and heartbeats flow.

        On the target, the offset-syncs topic is named after the other (source) cluster.
        """
        syncs = f"mm2-offset-syncs.{self.source_alias}.internal"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise MirrorError(f"MirrorMaker exited with {self.process.popen.returncode}:\n{self.log_tail()}")
            topics: set[str] = or_else(lambda: topic_names(self.target_bootstrap), set())
            if syncs in topics and "heartbeats" in topics and or_else(
                    lambda: end_offsets_total(self.target_bootstrap, "heartbeats"), 0) > 0:
                return
            time.sleep(0.5)
        raise MirrorError(f"MirrorMaker not running after {timeout_s:.0f} s:\n{self.log_tail()}")

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MirrorError(RuntimeError):
    """MirrorMaker died or did not replicate in time; the message carries its log tail."""


def start_mirror(source: Cluster | str, target: Cluster | str, *, source_alias: str = "A",
                 target_alias: str = "B", topics: str = ".*", groups: str = ".*",
                 overrides: Mapping[str, str] | None = None, wait: bool = True,
                 ready_timeout_s: float = READY_TIMEOUT_S) -> Mirror:
    """Start MM2 for `source -> target` (`--clusters target`); waits until it runs unless `wait=False`."""
    jars = resolve()
    workdir = processes.make_workdir(f"mirror-{source_alias}-{target_alias}")
    settings = mm2_properties(source_alias, target_alias, bootstrap_of(source), bootstrap_of(target),
                              topics, groups)
    settings.update(overrides or {})
    config = jvm.write_properties(workdir / "mm2.properties", settings)
    command = jvm.java_command(jars.mirror_classpath, MAIN_CLASS, [str(config), "--clusters", target_alias],
                               heap=MIRROR_HEAP, log4j2_config=jvm.write_log4j2_config(workdir / "log4j2.properties"),
                               logs_dir=workdir / "logs")
    process = processes.spawn(f"mirror-{source_alias}-{target_alias}", command, workdir / "mirror.log",
                              owned_dir=workdir)
    mirror = Mirror(process, workdir, source_alias, target_alias, bootstrap_of(source), bootstrap_of(target),
                    relaunch=lambda: start_mirror(source, target, source_alias=source_alias, target_alias=target_alias,
                                                  topics=topics, groups=groups, overrides=overrides,
                                                  ready_timeout_s=ready_timeout_s))
    if wait:
        try:
            mirror.wait_running(ready_timeout_s)
        except BaseException:
            mirror.kill()
            raise
    return mirror


def topic_names(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    return set(admin.list_topics(timeout=10).topics)


def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Sum over partitions of high - low watermark: the record count for non-transactional topics."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kfp-harness-watermarks",
                         "enable.auto.commit": False, "log_level": 2})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        total = 0
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def wait_for_records(bootstrap: str, topic: str, count: int, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Wait until `topic` exists on `bootstrap` with at least `count` offsets; returns seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if or_else(lambda: end_offsets_total(bootstrap, topic), 0) >= count:
            return time.monotonic() - start
        time.sleep(0.25)
    raise MirrorError(f"{topic} on {bootstrap} has fewer than {count} records after {timeout_s:.0f} s")


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """A group's committed offsets as (topic, partition) -> offset, via the admin API."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)
    result = futures[group].result(timeout=15)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def wait_for_group_offsets(bootstrap: str, group: str, expected: Mapping[tuple[str, int], int],
                           timeout_s: float = 60.0) -> float:
    """Wait until the group's committed offsets on `bootstrap` reach `expected`; returns seconds."""
    start = time.monotonic()
    seen: dict[tuple[str, int], int] = {}
    while time.monotonic() - start < timeout_s:
        seen = or_else(lambda: committed_offsets(bootstrap, group), seen)
        if all(seen.get(key, -1) >= offset for key, offset in expected.items()):
            return time.monotonic() - start
        time.sleep(0.5)
    raise MirrorError(f"group {group} on {bootstrap}: {seen}, expected {dict(expected)} after {timeout_s:.0f} s")
