"""The Java client as workload workers: Kafka's own VerifiableProducer and VerifiableConsumer.

Both tools ship in kafka-tools 4.4 and print one JSON object per event on stdout, which is exactly
what a switch test needs from the Java client: every acknowledged send with its partition, offset
and time (`producer_send_success`), every record given to the application (`record_data`, with
`--verbose`) and every commit with its outcome (`offsets_committed`; the tool commits synchronously
after every poll). A JVM per worker, started like every harness process and stopped with SIGTERM,
whose shutdown hook closes the client cleanly (the producer flushes first).
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any, Self

from harness import jvm, processes
from harness.jars import resolve
from harness.processes import ManagedProcess
from harness.workload import Ack, ConsumerWorker, ProducerWorker, Worker, wait_until

TOOLS = "org.apache.kafka.tools."
HEAP = ("-Xmx192m",)
STOP_GRACE_S = 60.0
JAVA_ASSIGNORS = {"range": "org.apache.kafka.clients.consumer.RangeAssignor",
                  "cooperative-sticky": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"}


class JavaTool:
    """One tool JVM whose stdout JSON lines are handed to `on_event` by a reader thread."""

    def __init__(self, name: str, main_class: str, args: list[str], properties: dict[str, str]) -> None:
        self.name = name
        self.main_class = main_class
        self.args = args
        self.properties = properties
        self.process: ManagedProcess | None = None
        self._reader: threading.Thread | None = None
        self._workdir: Path | None = None

    def command(self, workdir: Path) -> list[str]:
        """The tool's JVM command line, its client settings and log4j config written into `workdir`."""
        args = list(self.args)
        if self.properties:
            args += ["--command-config", str(jvm.write_properties(workdir / "client.properties", self.properties))]
        log4j = jvm.write_log4j2_config(workdir / "log4j2.properties", target="SYSTEM_ERR", level="WARN")
        return jvm.java_command(resolve().classpath, TOOLS + self.main_class, args, heap=HEAP, log4j2_config=log4j)

    def start(self, on_event: Any, on_exit: Any = None) -> None:
        workdir = self._workdir = processes.make_workdir(f"wl-{self.name}")
        command = self.command(workdir)
        stdout = workdir / "events.jsonl"
        self.process = processes.spawn(f"wl-{self.name}", command, stdout, stderr_path=workdir / "stderr.txt")
        self._reader = threading.Thread(target=self._follow, args=(stdout, on_event, on_exit), daemon=True,
                                        name=f"java-{self.name}-reader")
        self._reader.start()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        if self.process is not None:
            processes.stop_many([self.process], grace_s)
        if self._reader is not None:
            self._reader.join(30)
        processes.remove_workdir(self._workdir)

    def stderr_tail(self) -> str:
        return "" if self._workdir is None else processes.tail_file(self._workdir / "stderr.txt", 20)

    def _follow(self, path: Path, on_event: Any, on_exit: Any) -> None:
        """Hand over every complete line until the process has exited and the file is read."""
        while not path.exists():
            time.sleep(0.05)
        with path.open("rb") as stream:
            pending = b""
            while True:
                chunk = stream.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith(b"\n"):
                        _dispatch(pending, on_event)
                        pending = b""
                elif self.process is not None and not self.process.alive():
                    if on_exit is not None:
                        on_exit(self.process.popen.returncode)
                    return
                else:
                    time.sleep(0.02)


def _dispatch(line: bytes, on_event: Any) -> None:
    try:
        event = json.loads(line)
    except ValueError:
        return
    if isinstance(event, dict):
        on_event(event)


class JavaProducer(ProducerWorker):
    """VerifiableProducer (idempotent, acks=all): values are `<prefix>.<seq>`, the tool's own format."""

    library = "java"

    def __init__(self, bootstrap: str, topic: str, name: str, rate: float = 200.0, run_id: str | None = None,
                 compression: str = "none") -> None:
        super().__init__(bootstrap, topic, name, rate, run_id, compression)
        self.number = random.randrange(10**8, 10**9)
        self.prefix = f"{self.number}.".encode()
        self.tool = self.make_tool()

    def make_tool(self) -> JavaTool:
        """The client id is left at the library's default (`producer-N`), as most users leave it."""
        return JavaTool(self.name, "VerifiableProducer",
                        ["--topic", self.topic, "--bootstrap-server", self.bootstrap, "--throughput",
                         str(int(self.rate)), "--value-prefix", str(self.number), "--max-messages", "-1"],
                        {"enable.idempotence": "true", "acks": "all", "linger.ms": "5",
                         "retries": str(2**31 - 1), "compression.type": self.compression})

    def value(self, seq: int) -> bytes:
        return self.prefix + str(seq).encode()

    def start(self) -> Self:
        self.tool.start(self._on_event, self._on_exit)
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stopping.set()
        self.tool.stop()

    def _on_exit(self, code: int) -> None:
        if not self.stopping or code not in (0, 143):
            self.fatal = f"VerifiableProducer exited {code}: {self.tool.stderr_tail()}"
            self.error(self.fatal)

    def _on_event(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if name == "producer_send_success":
            with self._lock:
                self.sent += 1
                self.acks.append(_ack(event))
        elif name == "producer_send_error":
            self.sent += 1
            self.error(f"send of {event.get('value')} failed: {event.get('exception')}: {event.get('message')}")


def _ack(event: dict[str, Any]) -> Ack:
    return Ack(str(event["value"]).encode(), int(event["partition"]), int(event["offset"]),
               int(event["timestamp"]) / 1000)


class JavaConsumer(ConsumerWorker):
    """VerifiableConsumer, no auto-commit (a sync commit after every poll), either group protocol.

    With `--group-protocol consumer` (KIP-848) the broker owns the session timeout and heartbeat
    interval; the Java client rejects both settings then, so they are passed for classic only."""

    library = "java"

    def __init__(self, bootstrap: str, topic: str, group: str, name: str | None = None,
                 isolation_level: str = "read_uncommitted", session_timeout_ms: int = 45_000,
                 group_protocol: str = "classic", assignor: str | None = None) -> None:
        super().__init__(bootstrap, topic, group, name, isolation_level, session_timeout_ms, group_protocol,
                         assignor)
        self.tool = self.make_tool()

    def make_tool(self) -> JavaTool:
        args = ["--topic", self.topic, "--group-id", self.group, "--bootstrap-server", self.bootstrap, "--verbose",
                "--reset-policy", "earliest", "--group-protocol", self.group_protocol]
        properties = {"isolation.level": self.isolation_level}
        if self.group_protocol == "classic":
            args += ["--session-timeout", str(self.session_timeout_ms)]
            properties["heartbeat.interval.ms"] = str(self.heartbeat_ms)
        if self.assignor is not None:
            args += ["--assignment-strategy", JAVA_ASSIGNORS[self.assignor]]
        return JavaTool(self.name, "VerifiableConsumer", args, properties)

    def start(self) -> Self:
        self.tool.start(self._on_event, self._on_exit)
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stopping.set()
        self.tool.stop()

    def _on_exit(self, code: int) -> None:
        if not self.stopping or code not in (0, 143):
            self.fatal = f"VerifiableConsumer exited {code}: {self.tool.stderr_tail()}"
            self.error(self.fatal)

    def _on_event(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if name == "record_data":
            self.consumed(str(event["value"]).encode(), int(event["partition"]), int(event["offset"]))
        elif name == "offsets_committed":
            if event.get("success"):
                for entry in event.get("offsets") or []:
                    self.committed(int(entry["partition"]), int(entry["offset"]))
            else:
                self.error(f"commit failed: {event.get('error')}")


class JavaTransactionalCopier(Worker):
    """TransactionalMessageCopier: Java's consume-transform-produce loop with exactly-once semantics.

    It reads one input partition (read_committed) up to the end offset it saw at start, writes each
    value to the output topic in transactions of `transaction_size`, and commits its input offsets
    inside each transaction; on an abortable error it aborts and rewinds to the committed offsets.
    It exits by itself when it has copied everything, with status 0.
    """

    library = "java-transactional"

    def __init__(self, bootstrap: str, input_topic: str, output_topic: str, group: str,
                 transaction_size: int = 10, transaction_timeout_ms: int = 60_000) -> None:
        super().__init__(f"copier-{group}")
        self.processed = 0
        self.remaining: int | None = None
        self.exit_code: int | None = None
        self.tool = JavaTool(self.name, "TransactionalMessageCopier",
                             ["--broker-list", bootstrap, "--input-topic", input_topic, "--input-partition", "0",
                              "--output-topic", output_topic, "--consumer-group", group,
                              "--transactional-id", f"txn-{group}", "--transaction-size", str(transaction_size),
                              "--transaction-timeout", str(transaction_timeout_ms), "--use-group-metadata"], {})

    def start(self) -> Self:
        self.tool.start(self._on_event, self._on_exit)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self.tool.stop(timeout_s)

    def wait_processed(self, count: int, timeout_s: float = 120.0) -> None:
        wait_until(lambda: self.processed >= count or self.exit_code is not None, timeout_s,
                   lambda: f"copier: {self.processed}/{count} processed; errors {self.errors[-3:]}")

    def wait_done(self, timeout_s: float = 180.0) -> None:
        wait_until(lambda: self.exit_code is not None, timeout_s,
                   lambda: f"copier still running: {self.processed} processed, {self.remaining} remaining")

    def _on_event(self, event: dict[str, Any]) -> None:
        if "totalProcessed" in event:
            self.processed = int(event["totalProcessed"])
            self.remaining = int(event.get("remaining", -1))

    def _on_exit(self, code: int) -> None:
        self.exit_code = code
        if code != 0 and not self.stopping:
            self.error(f"TransactionalMessageCopier exited {code}: {self.tool.stderr_tail()}")
