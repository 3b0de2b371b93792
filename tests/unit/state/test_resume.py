"""Where a starting proxy's state comes from: the store wins; the config is only the first boot."""

from __future__ import annotations

import pytest

from proxy.state.resume import FIRST_BOOT, STORED, resume
from proxy.state.snapshot import PRODUCER_ID_RECORDS, SWITCH_RECORDS, ClusterState, StoredState
from proxy.state.store import StateStoreError

CLUSTERS = ("A", "B")


def _running(phase: str, epoch_before: int = 0) -> dict[str, object]:
    return {"switch_id": "sw-1", "source": "A", "target": "B", "phase": phase, "final": False, "outcome": None,
            "epoch_before": epoch_before, "epoch_after": None, "evidence": {"notes": []}}


def test_first_boot_takes_the_config() -> None:
    resumed = resume(None, "A", CLUSTERS, "file s.json")
    assert (resumed.cluster, resumed.source) == (ClusterState("A", 0), FIRST_BOOT)


def test_the_store_wins_over_the_config_and_says_so() -> None:
    resumed = resume(StoredState(ClusterState("B", 3)), "A", CLUSTERS, "file s.json")
    assert (resumed.cluster, resumed.source) == (ClusterState("B", 3), STORED)
    assert resumed.note is not None and "active B" in resumed.note and "A is only the first-boot" in resumed.note


def test_agreeing_store_and_config_need_no_note() -> None:
    assert resume(StoredState(ClusterState("B", 1, operator_fenced=True)), "B", CLUSTERS, "f").note is None


def test_a_stored_cluster_the_config_dropped_refuses_the_start() -> None:
    with pytest.raises(StateStoreError, match=r"'C'.*does not define"):
        resume(StoredState(ClusterState("C", 2)), "A", CLUSTERS, "file s.json")


def test_a_switch_interrupted_before_its_flip_is_closed_as_aborted() -> None:
    stored = StoredState(ClusterState("A", 0)).with_record(SWITCH_RECORDS, "sw-1", _running("catch_up"))
    record = resume(stored, "A", CLUSTERS, "f").closed["sw-1"]
    assert (record["final"], record["outcome"], record["phase"]) == (True, "aborted", "aborted")
    assert "catch_up before a flip" in record["reason"]


def test_a_switch_interrupted_after_its_persisted_flip_is_closed_as_succeeded() -> None:
    stored = StoredState(ClusterState("B", 1)).with_record(SWITCH_RECORDS, "sw-1", _running("switch"))
    resumed = resume(stored, "A", CLUSTERS, "f")
    record = resumed.records["sw-1"]
    assert (record["outcome"], record["epoch_after"]) == ("succeeded", 1)
    assert record["evidence"]["notes"][-1].startswith("interrupted:")


def test_final_records_are_kept_as_they_are() -> None:
    done = {**_running("done"), "final": True, "outcome": "succeeded"}
    resumed = resume(StoredState(ClusterState("B", 1)).with_record(SWITCH_RECORDS, "sw-1", done), "A", CLUSTERS, "f")
    assert resumed.closed == {} and resumed.records["sw-1"] == done


def test_stored_producer_id_origins_are_handed_over() -> None:
    stored = StoredState(ClusterState("A", 2)).with_record(PRODUCER_ID_RECORDS, "tx", {"issued_by": "A", "used_ms": 1})
    assert resume(stored, "A", ("A", "B"), "file").producer_ids == {"tx": {"issued_by": "A", "used_ms": 1}}


def test_a_record_stored_as_none_is_deleted() -> None:
    stored = StoredState(ClusterState("A", 2)).with_record(PRODUCER_ID_RECORDS, "tx", {"issued_by": "A"})
    assert stored.with_record(PRODUCER_ID_RECORDS, "tx", None).records == {}
