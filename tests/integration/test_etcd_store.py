"""The etcd backend keeps the store contract against a real etcd (Debian's etcd-server, `make etcd`)."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from harness.etcd import Etcd
from harness.proxy_thread import free_port_block
from proxy.state.etcd_store import EtcdStateStore
from proxy.state.snapshot import SWITCH_RECORDS, ClusterState
from proxy.state.store import StateConflict, StateStoreError

pytestmark = pytest.mark.integration
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def etcd() -> Iterator[Etcd]:
    with Etcd() as server:
        yield server


def _store(etcd: Etcd, prefix: str) -> EtcdStateStore:
    return EtcdStateStore([etcd.endpoint], prefix)


def _prefix() -> str:
    return f"/kfp-test/{uuid.uuid4().hex[:8]}"


def test_state_written_by_one_instance_is_what_the_next_one_loads(etcd: Etcd) -> None:
    prefix = _prefix()

    async def scenario() -> Any:
        first = _store(etcd, prefix)
        assert await first.load() is None
        await first.compare_and_swap(0, ClusterState("A", 0))
        await first.compare_and_swap(0, ClusterState("B", 1, operator_fenced=True))
        await first.put_record(SWITCH_RECORDS, "sw-1", {"switch_id": "sw-1", "final": True})
        await first.close()
        second = _store(etcd, prefix)
        stored = await second.load()
        await second.close()
        return stored

    stored = run(scenario())
    assert stored.cluster == ClusterState("B", 1, operator_fenced=True)
    assert stored.of_kind(SWITCH_RECORDS) == {"sw-1": {"switch_id": "sw-1", "final": True}}


def test_of_two_instances_flipping_from_one_epoch_exactly_one_wins(etcd: Etcd) -> None:
    prefix = _prefix()

    async def scenario() -> tuple[list[object], Any]:
        one, two = _store(etcd, prefix), _store(etcd, prefix)
        await one.compare_and_swap(0, ClusterState("A", 0))
        results = await asyncio.gather(one.compare_and_swap(0, ClusterState("B", 1)),
                                       two.compare_and_swap(0, ClusterState("B", 1)), return_exceptions=True)
        stored = await one.load()
        await one.close()
        await two.close()
        return list(results), stored

    results, stored = run(scenario())
    assert sorted(type(r).__name__ for r in results) == ["StateConflict", "StoredState"]
    assert stored.cluster == ClusterState("B", 1)


def test_a_stale_epoch_is_refused(etcd: Etcd) -> None:
    prefix = _prefix()

    async def scenario() -> None:
        store = _store(etcd, prefix)
        try:
            await store.compare_and_swap(0, ClusterState("A", 0))
            await store.compare_and_swap(0, ClusterState("B", 1))
            await store.compare_and_swap(0, ClusterState("A", 1))
        finally:
            await store.close()

    with pytest.raises(StateConflict, match="holds epoch 1, expected 0"):
        run(scenario())


def test_watch_sees_another_instances_flip(etcd: Etcd) -> None:
    prefix = _prefix()

    async def scenario() -> list[ClusterState]:
        watcher, writer = _store(etcd, prefix), _store(etcd, prefix)
        await writer.compare_and_swap(0, ClusterState("A", 0))
        seen: list[ClusterState] = []
        async for stored in watcher.watch(1.0):
            seen.append(stored.cluster)
            if len(seen) == 1:
                await writer.compare_and_swap(0, ClusterState("B", 1))
            else:
                break
        await watcher.close()
        await writer.close()
        return seen

    assert run(asyncio.wait_for(scenario(), 60)) == [ClusterState("A", 0), ClusterState("B", 1)]


def test_a_corrupt_value_in_etcd_is_a_clear_error(etcd: Etcd) -> None:
    prefix = _prefix()
    body = {"key": base64.b64encode(f"{prefix}/cluster".encode()).decode(),
            "value": base64.b64encode(b'{"format": "kafka-failover-proxy/switch-state", "ver').decode()}
    urllib.request.urlopen(urllib.request.Request(etcd.endpoint + "/v3/kv/put", json.dumps(body).encode(),
                                                  method="POST"), timeout=10).read()
    with pytest.raises(StateStoreError, match=r"switch state in etcd is corrupt.*not valid JSON"):
        run(_store(etcd, prefix).load())


def test_no_etcd_answering_is_a_clear_error() -> None:
    dead = f"http://127.0.0.1:{free_port_block(1)}"

    async def scenario() -> None:
        store = EtcdStateStore([dead], "/kfp-test/none", timeout_s=2)
        try:
            await store.load()
        finally:
            await store.close()

    with pytest.raises(StateStoreError, match="etcd unreachable"):
        run(scenario())
