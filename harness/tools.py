"""Kafka's own Java tools against any bootstrap (a cluster or the proxy), with parsed output.

The perf tools give the reference numbers the proxy is compared with, and TopicCommand /
ConsumerGroupCommand are what an operator would run through the proxy, so tests run the real
tools rather than Python imitations. Each run is a short JVM with a 256 MiB heap, log4j at WARN on
stderr (stdout carries only the tool's report), registered like every harness process.
The parsers follow the Kafka 4.4 output formats, as printed by real runs.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness import jvm, processes
from harness.jars import resolve

TOOL_HEAP = ("-Xmx256m",)
TOOLS = "org.apache.kafka.tools."
PRODUCER_PERFORMANCE = TOOLS + "ProducerPerformance"
CONSUMER_PERFORMANCE = TOOLS + "ConsumerPerformance"
CONSOLE_PRODUCER = TOOLS + "ConsoleProducer"
TOPIC_COMMAND = TOOLS + "TopicCommand"
CONSUMER_GROUP_COMMAND = TOOLS + "consumer.group.ConsumerGroupCommand"


class ToolError(RuntimeError):
    """A tool failed, timed out or printed something we cannot parse; carries its output."""


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str


def run_tool(main_class: str, args: Sequence[str], timeout_s: float = 300.0, stdin: bytes = b"") -> ToolResult:
    """Run one tool JVM to completion, `stdin` as its input; raise ToolError on a non-zero exit or timeout."""
    jars = resolve()
    workdir = processes.make_workdir(main_class.rsplit(".", 1)[1])
    log4j = jvm.write_log4j2_config(workdir / "log4j2.properties", target="SYSTEM_ERR", level="WARN")
    command = jvm.java_command(jars.classpath, main_class, args, heap=TOOL_HEAP, log4j2_config=log4j)
    (workdir / "stdin.txt").write_bytes(stdin)
    process = processes.spawn(main_class.rsplit(".", 1)[1], command, workdir / "stdout.txt",
                              stderr_path=workdir / "stderr.txt", owned_dir=workdir,
                              stdin_path=workdir / "stdin.txt")
    try:
        code = process.popen.wait(timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    result = ToolResult(-1 if code is None else code, (workdir / "stdout.txt").read_text(),
                        (workdir / "stderr.txt").read_text())
    processes.stop_many([process], 0)
    if code != 0:
        raise ToolError(f"{main_class} {' '.join(args)} exited {code}:\n{result.stdout[-2000:]}\n"
                        f"{result.stderr[-2000:]}")
    return result


@dataclass(frozen=True)
class ProducerPerformanceResult:
    records: int
    records_per_sec: float
    mb_per_sec: float
    avg_latency_ms: float
    max_latency_ms: float
    p50_ms: int
    p95_ms: int
    p99_ms: int
    p999_ms: int


_PRODUCER_FINAL = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th")


def parse_producer_performance(stdout: str) -> ProducerPerformanceResult:
    """The final summary line (the only one with percentiles; interim lines lack them)."""
    matches = _PRODUCER_FINAL.findall(stdout)
    if not matches:
        raise ToolError(f"no ProducerPerformance summary in:\n{stdout[-2000:]}")
    f = matches[-1]
    return ProducerPerformanceResult(int(f[0]), float(f[1]), float(f[2]), float(f[3]), float(f[4]),
                                     int(f[5]), int(f[6]), int(f[7]), int(f[8]))


def producer_performance(bootstrap: str, topic: str, num_records: int, record_size: int = 100,
                         throughput: int = -1, properties: dict[str, str] | None = None,
                         transactional_id: str | None = None) -> ProducerPerformanceResult:
    args = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(num_records),
            "--record-size", str(record_size), "--throughput", str(throughput)]
    for key, value in (properties or {}).items():
        args += ["--command-property", f"{key}={value}"]
    if transactional_id:
        args += ["--transactional-id", transactional_id]
    return parse_producer_performance(run_tool(PRODUCER_PERFORMANCE, args).stdout)


NULL_MARKER = "<null>"


def console_produce(bootstrap: str, topic: str, lines: Sequence[str], compression: str = "none",
                    properties: dict[str, str] | None = None) -> None:
    """Send `headers<TAB>key<TAB>value` lines with ConsoleProducer, the Java client at its plainest.

    Headers are `name:value` pairs joined by commas; `NULL_MARKER` in any field stands for null.
    The tool's own `--compression-codec` wins over a `compression.type` property, so it has its own
    argument. The tool exits once standard input ends and every record is acknowledged.
    """
    args = ["--bootstrap-server", bootstrap, "--topic", topic, "--compression-codec", compression,
            "--reader-property", "parse.key=true",
            "--reader-property", "parse.headers=true", "--reader-property", f"null.marker={NULL_MARKER}"]
    for key, value in (properties or {}).items():
        args += ["--command-property", f"{key}={value}"]
    run_tool(CONSOLE_PRODUCER, args, stdin="".join(f"{line}\n" for line in lines).encode())


@dataclass(frozen=True)
class ConsumerPerformanceResult:
    start_time: str
    end_time: str
    data_consumed_mb: float
    mb_sec: float
    records: int
    records_per_sec: float
    rebalance_time_ms: int
    fetch_time_ms: int
    fetch_mb_sec: float
    fetch_records_per_sec: float


def parse_consumer_performance(stdout: str) -> ConsumerPerformanceResult:
    """A CSV-ish header (`start.time, end.time, data.consumed.in.MB, ...`) and one line of values."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        at = next(i for i, line in enumerate(lines) if line.startswith("start.time"))
        row = dict(zip(lines[at].split(", "), lines[at + 1].split(", "), strict=True))
        return ConsumerPerformanceResult(
            row["start.time"], row["end.time"], float(row["data.consumed.in.MB"]), float(row["MB.sec"]),
            int(row["data.consumed.in.nMsg"]), float(row["nMsg.sec"]), int(row["rebalance.time.ms"]),
            int(row["fetch.time.ms"]), float(row["fetch.MB.sec"]), float(row["fetch.nMsg.sec"]))
    except (StopIteration, IndexError, KeyError, ValueError) as exc:
        raise ToolError(f"cannot parse ConsumerPerformance output ({exc!r}):\n{stdout[-2000:]}") from exc


def consumer_performance(bootstrap: str, topic: str, num_records: int, group: str | None = None,
                         timeout_ms: int = 60_000) -> ConsumerPerformanceResult:
    args = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(num_records),
            "--timeout", str(timeout_ms)]
    if group:
        args += ["--group", group]
    return parse_consumer_performance(run_tool(CONSUMER_PERFORMANCE, args).stdout)


@dataclass(frozen=True)
class PartitionDescription:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class TopicDescription:
    name: str
    topic_id: str
    partition_count: int
    replication_factor: int
    partitions: tuple[PartitionDescription, ...]


def _fields(line: str) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in line.strip().split("\t") if ":" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def _ids(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_topic_describe(stdout: str) -> list[TopicDescription]:
    """`Topic: t<TAB>TopicId: ...` header lines, each followed by tab-indented partition lines."""
    topics: list[TopicDescription] = []
    for line in stdout.splitlines():
        fields = _fields(line)
        if "PartitionCount" in fields:
            topics.append(TopicDescription(fields["Topic"], fields.get("TopicId", ""),
                                           int(fields["PartitionCount"]), int(fields["ReplicationFactor"]), ()))
        elif "Partition" in fields and topics:
            partition = PartitionDescription(int(fields["Partition"]), int(fields["Leader"]),
                                             _ids(fields["Replicas"]), _ids(fields["Isr"]))
            last = topics[-1]
            topics[-1] = TopicDescription(last.name, last.topic_id, last.partition_count,
                                          last.replication_factor, (*last.partitions, partition))
    return topics


def describe_topic(bootstrap: str, topic: str) -> TopicDescription:
    found = parse_topic_describe(run_tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--describe",
                                                          "--topic", topic]).stdout)
    if not found:
        raise ToolError(f"TopicCommand --describe printed no topic {topic}")
    return found[0]


def create_topic(bootstrap: str, topic: str, partitions: int = 1, replication_factor: int = 1) -> TopicDescription:
    """Create with TopicCommand, then describe it (what an operator would check).

    On a multi-node cluster the describing broker may not know the new topic yet: retry twice.
    """
    run_tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--create", "--topic", topic,
                             "--partitions", str(partitions), "--replication-factor", str(replication_factor)])
    for _ in range(2):
        try:
            return describe_topic(bootstrap, topic)
        except ToolError:
            time.sleep(1)
    return describe_topic(bootstrap, topic)


@dataclass(frozen=True)
class GroupOffsetRow:
    group: str
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    lag: int | None


def _offset(text: str) -> int | None:
    return None if text == "-" else int(text)


def parse_group_describe(stdout: str) -> list[GroupOffsetRow]:
    """Whitespace columns under a `GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...` header."""
    if "Error:" in stdout:
        raise ToolError(stdout.strip())
    rows: list[GroupOffsetRow] = []
    in_table = False
    for line in stdout.splitlines():
        columns = line.split()
        if columns[:3] == ["GROUP", "TOPIC", "PARTITION"]:
            in_table = True
        elif in_table and len(columns) >= 6:
            rows.append(GroupOffsetRow(columns[0], columns[1], int(columns[2]), _offset(columns[3]),
                                       _offset(columns[4]), _offset(columns[5])))
    return rows


def describe_group(bootstrap: str, group: str) -> list[GroupOffsetRow]:
    return parse_group_describe(run_tool(CONSUMER_GROUP_COMMAND, ["--bootstrap-server", bootstrap,
                                                                  "--describe", "--group", group]).stdout)
