"""The state file: atomic replace, strict reads, one owner, a versioned format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from proxy.state.file_store import FileStateStore
from proxy.state.snapshot import FORMAT, SWITCH_RECORDS, VERSION, ClusterState
from proxy.state.store import StateConflict, StateStoreError

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _written(path: Path) -> FileStateStore:
    store = FileStateStore(path)
    assert await store.load() is None  # first boot
    await store.compare_and_swap(0, ClusterState("A", 0))
    await store.compare_and_swap(0, ClusterState("B", 1))
    await store.put_record(SWITCH_RECORDS, "sw-1", {"switch_id": "sw-1", "final": True})
    return store


def test_what_is_written_is_read_back_by_the_next_process(tmp_path: Path) -> None:
    async def scenario() -> tuple[object, object]:
        await (await _written(tmp_path / "state.json")).close()
        again = FileStateStore(tmp_path / "state.json")
        stored = await again.load()
        await again.close()
        assert stored is not None
        return stored.cluster, stored.of_kind(SWITCH_RECORDS)

    cluster, records = run(scenario())
    assert cluster == ClusterState("B", 1)
    assert records == {"sw-1": {"switch_id": "sw-1", "final": True}}


def test_the_file_names_its_format_and_version(tmp_path: Path) -> None:
    run(_written(tmp_path / "state.json"))
    doc = json.loads((tmp_path / "state.json").read_text())
    assert (doc["format"], doc["version"], doc["active"], doc["epoch"]) == (FORMAT, VERSION, "B", 1)
    assert not (tmp_path / "state.json.tmp").exists()


def test_a_torn_temp_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    async def scenario() -> ClusterState:
        await (await _written(tmp_path / "state.json")).close()
        (tmp_path / "state.json.tmp").write_bytes(b'{"format": "kafka-failover-proxy/swi')  # crash mid-write
        store = FileStateStore(tmp_path / "state.json")
        stored = await store.load()
        assert stored is not None
        await store.compare_and_swap(1, ClusterState("A", 2))
        await store.close()
        return stored.cluster

    assert run(scenario()) == ClusterState("B", 1)
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 2
    assert not (tmp_path / "state.json.tmp").exists()


@pytest.mark.parametrize(("content", "says"), [
    (b'{"format": "kafka-failover-proxy/switch-state", "vers', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b'{"hello": 1}', "not a kafka-failover-proxy switch state"),
    (b'{"format": "kafka-failover-proxy/switch-state", "version": 99, "active": "A", "epoch": 0}', "newer proxy"),
    (b'{"format": "kafka-failover-proxy/switch-state", "version": 1, "active": "A", "epoch": -1}', "'epoch'"),
    (b'{"format": "kafka-failover-proxy/switch-state", "version": 1, "epoch": 0}', "'active'"),
    (b'{"format": "kafka-failover-proxy/switch-state", "version": 1, "active": "A", "epoch": 0, '
     b'"fences": {"operator": "yes"}}', "fences.operator"),
    (b'{"format": "kafka-failover-proxy/switch-state", "version": 1, "active": "A", "epoch": 0, '
     b'"records": []}', "'records'"),
])
def test_a_corrupt_file_is_a_clear_error_never_a_first_boot(tmp_path: Path, content: bytes, says: str) -> None:
    (tmp_path / "state.json").write_bytes(content)
    with pytest.raises(StateStoreError, match="corrupt") as caught:
        run(FileStateStore(tmp_path / "state.json").load())
    assert says in str(caught.value) and str(tmp_path / "state.json") in str(caught.value)


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()  # exists, cannot be read as a file
    with pytest.raises(StateStoreError, match="cannot read state file"):
        run(FileStateStore(tmp_path / "state.json").load())


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StateStoreError, match=r"lock file|does not exist"):
        run(FileStateStore(tmp_path / "nowhere" / "state.json").load())


def test_a_second_owner_of_the_same_file_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = FileStateStore(tmp_path / "state.json")
        await first.load()
        try:
            await FileStateStore(tmp_path / "state.json").load()
        finally:
            await first.close()

    with pytest.raises(StateStoreError, match="in use by another proxy"):
        run(scenario())


def test_compare_and_swap_refuses_an_epoch_someone_else_moved(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await _written(tmp_path / "state.json")
        try:
            await store.compare_and_swap(0, ClusterState("A", 1))  # stored epoch is 1
        finally:
            await store.close()

    with pytest.raises(StateConflict, match="holds epoch 1, expected 0"):
        run(scenario())


def test_watch_reports_a_change_made_outside_the_process(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        store = await _written(tmp_path / "state.json")
        seen: list[int] = []
        async for stored in store.watch(0.01):
            seen.append(stored.cluster.epoch)
            if len(seen) == 1:
                doc = json.loads((tmp_path / "state.json").read_text())
                (tmp_path / "state.json").write_text(json.dumps({**doc, "epoch": 7}))
            else:
                break
        await store.close()
        return seen

    assert run(scenario()) == [1, 7]
