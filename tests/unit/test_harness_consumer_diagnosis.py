"""A consumer worker remembers how its assignment changed and the library's last words, bounded."""

from __future__ import annotations

from harness.workload import ConsumerWorker


def _consumer() -> ConsumerWorker:
    return ConsumerWorker("127.0.0.1:1", "orders", "g")


def test_only_a_change_of_assignment_is_remembered_in_order() -> None:
    worker = _consumer()
    for partitions in ([], [], [2, 0, 1], [0, 1, 2], [], [3]):
        worker.assigned(partitions)
    assert [a.partitions for a in worker.assignments] == [(), (0, 1, 2), (), (3,)]
    assert [a.at for a in worker.assignments] == sorted(a.at for a in worker.assignments)


def test_diagnostics_keep_the_newest_lines() -> None:
    worker = _consumer()
    for n in range(5):
        worker.diagnose(f"line {n}", keep=3)
    assert [line.split(" ", 1)[1] for line in worker.diagnostics] == ["line 2", "line 3", "line 4"]
