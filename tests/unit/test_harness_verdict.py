"""The switch and fault verdicts judge the log, and name where a lost acknowledgement pointed."""

from __future__ import annotations

from collections import Counter

from harness.workload import ProducerWorker
from harness.workload_verify import Log, _judge_producer


def _producer(*acks: tuple[int, int, int]) -> ProducerWorker:
    worker = ProducerWorker("127.0.0.1:1", "orders", "p", run_id="r")
    for seq, partition, offset in acks:
        worker.acked(worker.value(seq), partition, offset)
    worker.sent = len(acks)
    return worker


def _judge(worker: ProducerWorker, log: Log) -> list[str]:
    counts = Counter(value for records in log.values() for _, value in records)
    report = _judge_producer(worker, counts, None, log)
    assert report.lost == len(report.lost_sample)
    return report.lost_sample


def test_a_value_in_the_log_is_not_lost() -> None:
    worker = _producer((0, 0, 0))
    assert _judge(worker, {0: [(0, worker.value(0))]}) == []


def test_an_acknowledgement_naming_another_records_offset_is_reported_with_that_record() -> None:
    worker = _producer((0, 0, 0), (1, 0, 1))
    log: Log = {0: [(0, worker.value(0)), (1, b"someone-else")]}
    assert _judge(worker, log) == ["r-p-00000001 acked at 0@1; log there: someone-else; partition ends at 1"]


def test_an_acknowledged_offset_past_the_end_of_the_log_is_reported_as_nothing_there() -> None:
    worker = _producer((0, 2, 7))
    assert _judge(worker, {2: [(3, b"x")]}) == ["r-p-00000000 acked at 2@7; log there: nothing; partition ends at 3"]


def test_an_acknowledgement_without_a_position_says_so() -> None:
    worker = _producer((0, -1, -1))
    assert _judge(worker, {0: []}) == ["r-p-00000000 (acknowledged without a position)"]
