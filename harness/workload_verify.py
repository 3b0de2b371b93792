"""The verdict on a workload run, taken from the target cluster's log itself.

What the clients say is only half the evidence: a record acknowledged on A is safe only if it is in
B's log, exactly once, after the switch. So `verify` reads the whole topic on the target with a
throwaway consumer (assigned every partition from the beginning, no group state touched) and
judges each worker against it:

- producer: `lost` = acknowledged values absent from the log; `duplicates` = extra copies of its
  values in the log; `aborted_visible` = values of aborted transactions that are visible;
  `unavailable_ms` = from the switch call to the first acknowledgement after the flip.
- consumer: `replayed` = deliveries of a value it had already been given; `unconsumed` = acknowledged
  values it never got; `offset_resets` = jumps in its position over the target's log that no commit
  explains (a skip forward, or a rewind to before what it had successfully committed). Positions are
  measured as indexes in the target's log, not raw offsets, so a correct translation of A's offsets
  to B's does not count as a jump.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import confluent_kafka

from harness.retriable import is_not_yet
from harness.workload import Committed, Consumed, ConsumerWorker, ProducerWorker, SwitchRun

Log = dict[int, list[tuple[int, bytes]]]


def read_log(bootstrap: str, topic: str, isolation_level: str = "read_uncommitted", timeout_s: float = 60.0
             ) -> Log:
    """Every record of `topic` on `bootstrap`, per partition, as (offset, value), up to the current end."""
    reader = confluent_kafka.Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"kfp-verify-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": isolation_level,
        "log_level": 3})
    try:
        partitions = sorted(reader.list_topics(topic, timeout=30).topics[topic].partitions)
        reader.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                       for p in partitions])
        log: Log = {p: [] for p in partitions}
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} on {bootstrap}: partitions {sorted(set(partitions) - at_end)} "
                                   f"not read to the end in {timeout_s:.0f} s")
            for msg in reader.consume(500, 0.5):
                error = msg.error()
                if error is None:
                    log[msg.partition() or 0].append((msg.offset() or 0, msg.value() or b""))
                elif error.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                elif not is_not_yet(error):
                    raise RuntimeError(f"reading {topic} on {bootstrap}: {error}")
        return log
    finally:
        reader.close()


@dataclass
class ProducerReport:
    name: str
    library: str
    sent: int
    acked: int
    lost: int
    duplicates: int
    aborted_visible: int
    errors: int
    fatal: str | None
    unavailable_ms: float | None
    max_ack_gap_ms: float | None
    lost_sample: list[str] = field(default_factory=list)


@dataclass
class ConsumerReport:
    name: str
    library: str
    consumed: int
    replayed: int
    unconsumed: int
    offset_resets: int
    not_on_target: int
    errors: int
    fatal: str | None = None
    resets: list[str] = field(default_factory=list)
    errors_sample: list[str] = field(default_factory=list)  # the last few, e.g. why a commit failed


@dataclass
class Verdict:
    topic: str
    log_records: int
    producers: list[ProducerReport]
    consumers: list[ConsumerReport]

    @property
    def lost(self) -> int:
        return sum(p.lost for p in self.producers)

    @property
    def duplicates(self) -> int:
        return sum(p.duplicates for p in self.producers)

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "log_records": self.log_records, "lost": self.lost,
                "duplicates": self.duplicates, "producers": [asdict(p) for p in self.producers],
                "consumers": [asdict(c) for c in self.consumers]}


def verify(bootstrap: str, topic: str, producers: Sequence[ProducerWorker],
           consumers: Sequence[ConsumerWorker] = (), switch: SwitchRun | None = None,
           isolation_level: str = "read_uncommitted") -> Verdict:
    """Judge stopped workers against the log of `topic` on `bootstrap` (the switch's target)."""
    log = read_log(bootstrap, topic, isolation_level)
    counts = Counter(value for records in log.values() for _, value in records)
    expected = set().union(*(p.acked_values for p in producers)) if producers else set()
    return Verdict(topic, sum(counts.values()), [_judge_producer(p, counts, switch, log) for p in producers],
                   [_judge_consumer(c, log, expected) for c in consumers])


def _judge_producer(worker: ProducerWorker, counts: Counter[bytes], switch: SwitchRun | None, log: Log
                    ) -> ProducerReport:
    acked = worker.acked_values
    lost = sorted(acked - counts.keys())
    duplicates = sum(n - 1 for value, n in counts.items() if n > 1 and worker.owns(value))
    times = sorted(ack.at for ack in worker.acks)
    return ProducerReport(
        worker.name, worker.library, worker.sent, len(acked), len(lost), duplicates,
        len(worker.aborted & counts.keys()), len(worker.errors), worker.fatal,
        _unavailable_ms(times, switch), _max_gap_ms(times), [_where(v, worker, log) for v in lost[:5]])


def _where(value: bytes, worker: ProducerWorker, log: Log) -> str:
    """A lost value, where its acknowledgement put it, and what the log holds there: the evidence that
    tells a record never written from an acknowledgement that named another record's offset."""
    acks = [a for a in worker.acks if a.value == value]
    text = value.decode(errors="replace")
    if not acks or acks[0].partition < 0:
        return f"{text} (acknowledged without a position)"
    ack = acks[0]
    records = log.get(ack.partition, [])
    there = next((v.decode(errors="replace") for offset, v in records if offset == ack.offset), "nothing")
    last = records[-1][0] if records else -1
    return f"{text} acked at {ack.partition}@{ack.offset}; log there: {there}; partition ends at {last}"


def _unavailable_ms(ack_times: list[float], switch: SwitchRun | None) -> float | None:
    """Switch call to the first acknowledgement after the flip (None without a flip or such an ack)."""
    if switch is None or switch.flipped_at is None:
        return None
    after = next((t for t in ack_times if t >= switch.flipped_at), None)
    return None if after is None else round((after - switch.called_at) * 1000, 1)


def _max_gap_ms(ack_times: list[float]) -> float | None:
    gaps = [b - a for a, b in itertools.pairwise(ack_times)]
    return round(max(gaps) * 1000, 1) if gaps else None


def _judge_consumer(worker: ConsumerWorker, log: Log, expected: set[bytes]) -> ConsumerReport:
    index: dict[bytes, tuple[int, int]] = {}
    for partition, records in log.items():
        for i, (_, value) in enumerate(records):
            index.setdefault(value, (partition, i))
    seen: set[bytes] = set()
    replayed = not_on_target = 0
    position: dict[int, int] = {}
    committed: dict[int, int] = {}
    resets: list[str] = []
    for event in list(worker.events):
        place = index.get(event.value)
        if isinstance(event, Committed):
            if place is not None:
                committed[place[0]] = place[1]
            continue
        replayed += event.value in seen
        seen.add(event.value)
        if place is None:
            not_on_target += 1
            continue
        reset = _jump(place, position, committed, event)
        if reset:
            resets.append(reset)
        position[place[0]] = place[1]
    return ConsumerReport(worker.name, worker.library, len(worker.records), replayed, len(expected - seen),
                          len(resets), not_on_target, len(worker.errors), worker.fatal, resets[:10],
                          [error[:300] for error in worker.errors[-5:]])


def _jump(place: tuple[int, int], position: dict[int, int], committed: dict[int, int], event: Consumed) -> str:
    """Why moving to `place` is an offset reset, or "" when it is the next record or a rewind to a commit."""
    partition, i = place
    last = position.get(partition, -1)
    if i == last + 1:
        return ""
    if i > last + 1:
        return f"partition {partition}: skipped {i - last - 1} record(s) to log index {i} (offset {event.offset})"
    if i <= committed.get(partition, -1):
        return f"partition {partition}: rewound to log index {i}, before its commit at {committed[partition]}"
    return ""
