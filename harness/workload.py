"""Sequence-numbered load for every client library, for switch tests, the failover drill and the demo.

A producer worker writes `<run>-<name>-<seq>` (Java: `<prefix>.<seq>`, VerifiableProducer's format)
at a steady rate until stopped and remembers every acknowledged value with its partition, offset
and wall-clock ack time. A consumer worker reads with a consumer group, commits synchronously after
every batch, and remembers every record it was given and every commit that succeeded, in order.
Nothing is judged here: `harness.workload_verify.verify` compares both with the target cluster's
log afterwards, because only the log says what was lost or written twice.

Times are wall-clock seconds (`time.time()`), the one clock Java's tools print as well; a switch
is placed on that clock by `run_switch` from the proxy's own record.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from harness.proxy_thread import ProxyThread
    from harness.workload_verify import Verdict

LIBRARIES = ("confluent", "kafka-python", "aiokafka", "java")
GO = "franz-go"  # a Go program the harness builds (harness/go_workload); not in LIBRARIES' broker-fault runs
ALL_LIBRARIES = (*LIBRARIES, GO)
GROUP_PROTOCOLS = ("classic", "consumer")
KIP848_LIBRARIES = ("confluent", "java", GO)  # kafka-python and aiokafka speak only the classic protocol
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
ASSIGNORS = ("range", "cooperative-sticky")  # classic groups; None leaves the library's default
DEFAULT_RATE = 200.0
TICK_S = 0.005


@dataclass(frozen=True, slots=True)
class Ack:
    """A value the producer's client library reported as written."""

    value: bytes
    partition: int
    offset: int
    at: float


@dataclass(frozen=True, slots=True)
class Consumed:
    """A record a consumer worker was given by its library."""

    value: bytes
    partition: int
    offset: int
    at: float


@dataclass(frozen=True, slots=True)
class Assigned:
    """The partitions a consumer's library held from `at` on (a rebalance's outcome, as polled)."""

    partitions: tuple[int, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Committed:
    """A successful commit that covered `value` (the last record consumed on `partition`)."""

    value: bytes
    partition: int
    at: float


def new_run_id() -> str:
    return uuid.uuid4().hex[:6]


class Worker:
    """A background activity with a start, a clean stop and a list of errors it saw."""

    library = "?"

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._guarded, name=f"{self.library}-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self.errors.append(f"worker thread did not stop within {timeout_s:.0f} s")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(f"{time.time():.3f} {text}")

    def _guarded(self) -> None:
        try:
            self.run()
        except Exception as exc:  # a worker reports, it never takes the test thread down
            self.error(f"crashed: {exc!r}")

    def run(self) -> None:
        raise NotImplementedError


class ProducerWorker(Worker):
    """Produces sequence-numbered values at `rate` per second until stopped."""

    def __init__(self, bootstrap: str, topic: str, name: str, rate: float = DEFAULT_RATE,
                 run_id: str | None = None, compression: str = "none") -> None:
        super().__init__(name)
        self.bootstrap = bootstrap
        self.topic = topic
        self.rate = rate
        self.compression = compression
        self.prefix = f"{run_id or new_run_id()}-{name}-".encode()
        self.sent = 0
        self.acks: list[Ack] = []
        self.aborted: set[bytes] = set()  # values known never to be committed (aborted transactions)
        self.fatal: str | None = None

    def value(self, seq: int) -> bytes:
        return self.prefix + b"%08d" % seq

    def owns(self, value: bytes) -> bool:
        return value.startswith(self.prefix)

    def acked(self, value: bytes, partition: int, offset: int) -> None:
        with self._lock:
            self.acks.append(Ack(value, partition, offset, time.time()))

    @property
    def acked_values(self) -> set[bytes]:
        with self._lock:
            return {ack.value for ack in self.acks}

    def due(self, started: float) -> int:
        """How many values should have been sent by now at `rate`."""
        return int((time.monotonic() - started) * self.rate) + 1

    def wait_acked(self, count: int, timeout_s: float = 60.0) -> None:
        wait_until(lambda: len(self.acks) >= count or self.fatal is not None, timeout_s,
                   lambda: f"{self.library} producer {self.name}: {len(self.acks)}/{count} acked; "
                           f"errors {self.errors[-5:]}")


class ConsumerWorker(Worker):
    """Consumes with a group, commits after every batch, remembers what it got and committed."""

    def __init__(self, bootstrap: str, topic: str, group: str, name: str | None = None,
                 isolation_level: str = "read_uncommitted", session_timeout_ms: int = 45_000,
                 group_protocol: str = "classic", assignor: str | None = None) -> None:
        super().__init__(name or group)
        if group_protocol not in GROUP_PROTOCOLS or (group_protocol != "classic"
                                                     and self.library not in KIP848_LIBRARIES):
            raise ValueError(f"{self.library} consumer cannot use group.protocol={group_protocol}")
        if assignor is not None and (assignor not in ASSIGNORS or group_protocol != "classic"):
            raise ValueError(f"assignor {assignor!r} needs the classic protocol and one of {ASSIGNORS}")
        self.assignor = assignor
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.isolation_level = isolation_level
        self.session_timeout_ms = session_timeout_ms
        self.group_protocol = group_protocol
        self.fatal: str | None = None  # an error the library gave up on (the consumer is dead)
        self.events: list[Consumed | Committed] = []
        self.assignments: list[Assigned] = []  # every change of the assignment, for a verdict to explain itself
        self.diagnostics: list[str] = []  # the library's own warnings and rebalance outcomes, newest last
        self._last: dict[int, Consumed] = {}

    def assigned(self, partitions: list[int]) -> None:
        """The library holds `partitions` now; remembered when it differs from the last assignment."""
        current = tuple(sorted(partitions))
        with self._lock:
            if not self.assignments or self.assignments[-1].partitions != current:
                self.assignments.append(Assigned(current, time.time()))

    def diagnose(self, text: str, keep: int = 200) -> None:
        with self._lock:
            self.diagnostics.append(f"{time.time():.3f} {text}")
            del self.diagnostics[:-keep]

    def consumed(self, value: bytes, partition: int, offset: int) -> None:
        record = Consumed(value, partition, offset, time.time())
        with self._lock:
            self.events.append(record)
            self._last[partition] = record

    def committed(self, partition: int, offset: int) -> None:
        """A commit of `offset` on `partition` succeeded; it covers the record just before it."""
        with self._lock:
            last = self._last.get(partition)
            if last is not None and last.offset == offset - 1:
                self.events.append(Committed(last.value, partition, time.time()))

    def committed_positions(self) -> None:
        """A commit of every consumed position succeeded (what an argument-less commit does)."""
        with self._lock:
            now = time.time()
            self.events.extend(Committed(last.value, p, now) for p, last in self._last.items())

    @property
    def heartbeat_ms(self) -> int:
        return min(3000, self.session_timeout_ms // 3)

    @property
    def records(self) -> list[Consumed]:
        with self._lock:
            return [e for e in self.events if isinstance(e, Consumed)]

    @property
    def values(self) -> set[bytes]:
        return {r.value for r in self.records}

    def wait_consumed(self, values: set[bytes], timeout_s: float = 60.0) -> None:
        """Until every one of `values` was consumed (or the timeout; the verdict will show what is missing)."""
        try:
            wait_until(lambda: values <= self.values, timeout_s, lambda: "")
        except TimeoutError:
            missing = len(values - self.values)
            self.error(f"{missing} of {len(values)} expected values not consumed after {timeout_s:.0f} s")


def wait_until(condition: Callable[[], bool], timeout_s: float, describe: Callable[[], str],
               every_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(describe() or f"condition not met after {timeout_s:.0f} s")
        time.sleep(every_s)


_names = itertools.count(1)


def producer(library: str, bootstrap: str, topic: str, *, name: str | None = None, rate: float = DEFAULT_RATE,
             run_id: str | None = None, **options: Any) -> ProducerWorker:
    """An idempotent producer worker for `library` (one of ALL_LIBRARIES); call `.start()`.

    `compression=` one of CODECS (default: none, franz-go: snappy, each library's own default);
    the client id is always the library's default."""
    from harness import workload_clients, workload_go, workload_java

    kinds: dict[str, type[ProducerWorker]] = {
        "confluent": workload_clients.ConfluentProducer, "kafka-python": workload_clients.KafkaPythonProducer,
        "aiokafka": workload_clients.AiokafkaProducer, "java": workload_java.JavaProducer,
        GO: workload_go.GoProducer, "confluent-transactional": workload_clients.ConfluentTransactionalProducer,
    }
    if options.get("compression", "none") not in CODECS:
        raise ValueError(f"compression {options['compression']!r} is not one of {CODECS}")
    return kinds[library](bootstrap, topic, name or f"p{next(_names)}", rate, run_id, **options)


def consumer(library: str, bootstrap: str, topic: str, group: str, *, name: str | None = None,
             isolation_level: str = "read_uncommitted", session_timeout_ms: int = 45_000,
             group_protocol: str = "classic", assignor: str | None = None) -> ConsumerWorker:
    """A group consumer worker for `library` (one of ALL_LIBRARIES); call `.start()`.

    A short `session_timeout_ms` (>= 6000, the broker's minimum) lets the member a switch leaves
    behind on the source expire quickly, which a failback to that source needs. With
    `group_protocol="consumer"` (KIP-848; KIP848_LIBRARIES only) the broker owns session timeout,
    heartbeat interval and assignor, so the client sets none of them; a classic group uses
    `assignor` (one of ASSIGNORS) or the library's default."""
    from harness import workload_clients, workload_go, workload_java

    kinds: dict[str, type[ConsumerWorker]] = {
        "confluent": workload_clients.ConfluentConsumer, "kafka-python": workload_clients.KafkaPythonConsumer,
        "aiokafka": workload_clients.AiokafkaConsumer, "java": workload_java.JavaConsumer,
        GO: workload_go.GoConsumer,
    }
    return kinds[library](bootstrap, topic, group, name, isolation_level, session_timeout_ms, group_protocol,
                          assignor)


# -- the switch, as a client of the proxy sees it ------------------------------------------------------


@dataclass(frozen=True)
class SwitchRun:
    """One switch: its id, its final record, and when the admin call was made (wall clock)."""

    switch_id: str
    record: dict[str, Any]
    called_at: float
    phases_ms: dict[str, int] = field(default_factory=dict)

    @property
    def outcome(self) -> str | None:
        return self.record.get("outcome")

    @property
    def flipped_at(self) -> float | None:
        """Wall-clock time of the flip (the SWITCH phase's start), None if the switch never flipped."""
        if self.record.get("epoch_after") is None:
            return None
        start = next((p["start_ms"] for p in self.record["phases"] if p["phase"] == "switch"), None)
        if start is None:
            return None
        return self.called_at + (int(start) - int(self.record["requested_at_ms"])) / 1000


def run_switch(proxy: ProxyThread, target: str, *, mode: str = "planned", dry_run: bool = False,
               timeout_s: float = 60.0, wait_s: float | None = None, accept_replay: bool = False) -> SwitchRun:
    """Ask the proxy for a switch (as the admin API does) and wait until its record is final."""
    control = proxy.server.control
    called_at = time.time()
    switch_id = proxy.call(lambda: control.start_switch(target, mode, dry_run, timeout_s, accept_replay))
    deadline = time.monotonic() + (wait_s if wait_s is not None else timeout_s + 60)
    record: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        record = proxy.call(lambda: control.switch_record(switch_id))
        if record is not None and record["final"]:
            break
        time.sleep(0.1)
    if record is None or not record["final"]:
        raise TimeoutError(f"switch {switch_id} not final after waiting: {record}")
    phases = {p["phase"]: p["duration_ms"] for p in record["phases"] if p["duration_ms"] is not None}
    return SwitchRun(switch_id, record, called_at, phases)


def verify(*args: Any, **kwargs: Any) -> Verdict:
    """`harness.workload_verify.verify`: the verdict on stopped workers, from the target's log."""
    from harness.workload_verify import verify as judge

    return judge(*args, **kwargs)
