"""The executor persists each transition before acting on it, and resumes from what it persisted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.state.file_store import FileStateStore
from proxy.state.lease_clock import Verdict
from proxy.state.memory_store import MemoryStateStore
from proxy.state.snapshot import SWITCH_RECORDS, ClusterState, StoredState
from proxy.state.store import StateStoreError
from proxy.switch.executor import SwitchExecutor
from proxy.switch.machine.phases import Phase


class RefusingStore(MemoryStateStore):
    """Takes the first-boot write, then refuses every flip (a full disk, a lost etcd quorum)."""

    async def compare_and_swap(self, expected_epoch: int, cluster: ClusterState) -> StoredState:
        if cluster.epoch > 0:
            raise StateStoreError("disk full")
        return await super().compare_and_swap(expected_epoch, cluster)


def executor(store: Any, active: str = "A") -> SwitchExecutor:
    config = proxy_config({"A": "127.0.0.1:1", "B": "127.0.0.1:2"}, active,
                          mirrors=[{"source": "A", "target": "B"}], switch={"fetch_hold_timeout_s": 0.2})
    return SwitchExecutor(ProxyContext(config, Metrics(clusters=["A", "B"])), store=store)


async def _emergency_switch(switch: SwitchExecutor) -> dict[str, Any]:
    """An emergency switch goes FENCE -> SWITCH with no broker check, so it reaches FlipActive offline."""
    switch_id = switch.start_switch("B", "emergency", False, 30.0)
    for _ in range(300):
        await asyncio.sleep(0.01)
        if switch.machine.phase in (Phase.ABORTED, Phase.DONE):
            break
    await switch.flush()
    return switch.record(switch_id) or {}


def test_a_flip_is_persisted_with_its_epoch_and_the_record_is_stored() -> None:
    async def scenario() -> tuple[StoredState | None, str, dict[str, Any]]:
        store = MemoryStateStore()
        switch = executor(store)
        await switch.resume_from_store()
        record = await _emergency_switch(switch)
        await switch.close()
        return store.state, switch.context.active, record

    stored, active, record = asyncio.run(scenario())
    assert stored is not None and stored.cluster == ClusterState("B", 1)
    assert active == "B" and record["epoch_after"] == 1
    assert stored.of_kind(SWITCH_RECORDS)[record["switch_id"]] == record


def test_a_flip_that_cannot_be_persisted_aborts_and_routing_stays() -> None:
    async def scenario() -> tuple[str, int, dict[str, Any]]:
        switch = executor(RefusingStore())
        await switch.resume_from_store()
        record = await _emergency_switch(switch)
        await switch.close()
        return switch.context.active, switch.context.switch_epoch, record

    active, epoch, record = asyncio.run(scenario())
    assert (active, epoch, record["outcome"]) == ("A", 0, "aborted")
    assert "could not persist epoch 1 on B: disk full" in record["reason"]


def test_a_restart_resumes_the_stored_cluster_and_an_operator_fence(tmp_path: Path) -> None:
    async def first_life() -> None:
        switch = executor(FileStateStore(tmp_path / "state.json"))
        await switch.resume_from_store()
        await _emergency_switch(switch)
        switch.fence()
        await switch.close()

    async def second_life() -> tuple[str, int, bool, dict[str, Any]]:
        switch = executor(FileStateStore(tmp_path / "state.json"), active="A")  # config still says A
        await switch.resume_from_store()
        answer = (switch.context.active, switch.context.switch_epoch, switch.produce_fence.fenced,
                  switch.state_status())
        await switch.close()
        return answer

    asyncio.run(first_life())
    active, epoch, fenced, status = asyncio.run(second_life())
    assert (active, epoch, fenced) == ("B", 1, True)
    assert status["resumed_from"] == "state" and "A is only the first-boot value" in status["note"]
    assert status["switch_records"] == 1


def test_an_operator_unfence_is_persisted_too(tmp_path: Path) -> None:
    async def scenario() -> StoredState | None:
        store = MemoryStateStore()
        switch = executor(store)
        await switch.resume_from_store()
        switch.fence()
        await switch.flush()
        assert store.state is not None and store.state.cluster.operator_fenced
        switch.unfence()
        await switch.close()
        return store.state

    stored = asyncio.run(scenario())
    assert stored is not None and stored.cluster == ClusterState("A", 0, operator_fenced=False)


def test_fail_closed_fences_until_the_same_state_is_read_again() -> None:
    async def scenario() -> list[tuple[bool, bool]]:
        switch = executor(MemoryStateStore())
        await switch.resume_from_store()
        seen = []
        await switch.on_lease(Verdict.LOST)
        seen.append((switch.produce_fence.fenced, switch.transactions.fenced))
        switch.fence()
        switch.unfence()  # the operator's unfence does not lift the fail-closed fence
        seen.append((switch.produce_fence.fenced, switch.transactions.fenced))
        assert await switch.on_lease(Verdict.REGAINED)
        seen.append((switch.produce_fence.fenced, switch.transactions.fenced))
        await switch.close()
        return seen

    assert asyncio.run(scenario()) == [(True, True), (True, True), (False, False)]


def test_a_flip_missed_while_cut_off_is_followed_once_the_state_is_read_again() -> None:
    """The instance fenced before its lease could expire, so the fleet flipped without it only after it
    stopped writing to A: taking the stored cluster then is what a restart would do."""
    async def scenario() -> tuple[str, int, bool, bool]:
        store = MemoryStateStore()
        switch = executor(store)
        await switch.resume_from_store()
        await switch.on_lease(Verdict.LOST)
        await store.compare_and_swap(0, ClusterState("B", 1))  # another instance flipped meanwhile
        assert await switch.on_lease(Verdict.REGAINED)
        answer = switch.context.active, switch.context.switch_epoch, switch.produce_fence.fenced, switch.state_lost
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == ("B", 1, False, False)


def test_a_stored_state_behind_this_instance_keeps_the_fence_up() -> None:
    """An epoch lower than the one routed by (a restored backup, a wiped prefix) is not a state to follow."""
    async def scenario() -> tuple[bool, bool]:
        store = MemoryStateStore()
        switch = executor(store)
        await switch.resume_from_store()
        await _emergency_switch(switch)
        await switch.on_lease(Verdict.LOST)
        store.state = StoredState(ClusterState("A", 0))
        await switch.on_lease(Verdict.REGAINED)
        answer = switch.produce_fence.fenced, switch.state_lost
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (True, True)


def test_a_regained_store_that_cannot_be_read_is_not_a_regained_view() -> None:
    class Unreadable(MemoryStateStore):
        async def load(self) -> StoredState | None:
            raise StateStoreError("etcd unreachable")

    async def scenario() -> tuple[bool, bool]:
        switch = executor(Unreadable())
        await switch.on_lease(Verdict.LOST)
        accepted = await switch.on_lease(Verdict.REGAINED)
        answer = accepted, switch.produce_fence.fenced
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (False, True)


def test_transactional_producer_id_origins_outlive_a_restart(tmp_path: Path) -> None:
    """A Java TV2 producer that initialised on A before a proxy restart still carries A's producer id
    after a later switch to B: the restarted proxy must still know where that id came from."""
    async def first_life() -> None:
        switch = executor(FileStateStore(tmp_path / "state.json"))
        await switch.resume_from_store()
        switch.interceptor.producer_ids.issued("copier-1", "A")
        switch.interceptor.producer_ids.issued("copier-2", "A")
        switch.interceptor.producer_ids.issued("copier-2", "B")
        await switch.close()

    async def second_life() -> tuple[str | None, str | None, str | None]:
        switch = executor(FileStateStore(tmp_path / "state.json"))
        await switch.resume_from_store()
        origins = switch.interceptor.producer_ids
        answer = origins.issued_by("copier-1"), origins.issued_by("copier-2"), origins.issued_by("never-seen")
        await switch.close()
        return answer

    asyncio.run(first_life())
    assert asyncio.run(second_life()) == ("A", "B", None)
