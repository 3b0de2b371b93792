"""The switch record as the admin API serves it: JSON-safe, with timings and evidence."""

from __future__ import annotations

import json

from proxy.switch.machine import events as ev
from proxy.switch.machine.phases import Phase

from .scenario import caught_up, driven, lagging, machine, requested


def test_finished_record_is_json_with_phase_durations() -> None:
    record = driven(10).record("s1")
    assert record is not None
    data = json.loads(json.dumps(record.to_dict()))
    assert {k: data[k] for k in ("switch_id", "phase", "final", "outcome", "epoch_after")} == {
        "switch_id": "s1", "phase": "done", "final": True, "outcome": "succeeded", "epoch_after": 1}
    assert [(p["phase"], p["duration_ms"]) for p in data["phases"]] == [
        ("fence", 10), ("drain", 10), ("catch_up", 30), ("switch", 40), ("done", 0)]
    mirror = data["evidence"]["mirror"]["partitions"]
    assert [(p["partition"], p["exact_sync"], p["lag"], p["caught_up"]) for p in mirror] == [
        (0, [99, 89], 0, True), (1, [49, 49], 0, True)]
    assert data["evidence"]["gates"]["mirror"]["status"] == "passed"


def test_running_record_is_not_final_and_its_phase_is_open() -> None:
    record = driven(3).record("s1")
    assert record is not None
    data = record.to_dict()
    assert (data["phase"], data["final"], data["outcome"]) == ("catch_up", False, None)
    assert data["phases"][-1] == {"phase": "catch_up", "start_ms": 20, "end_ms": None, "duration_ms": None}


def test_emergency_tail_in_the_record() -> None:
    m = machine()
    m.handle(ev.ProgressObserved(now=1, partitions=(caught_up("t", 0, 10), lagging("t", 1, 10, behind=3))))
    m.handle(requested(mode="emergency", now=2))
    m.handle(ev.ProduceFenced(now=3))
    tail = m.record("s1").to_dict()["evidence"]["emergency_tail"]  # type: ignore[union-attr]
    assert (tail["total_known"], tail["unknown_partitions"], tail["observed_at_ms"]) == (3, 0, 1)
    assert m.phase is Phase.SWITCH
