"""One switch across a fleet, from the executor's side: lead, follow, abort; no etcd needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.state.lease_clock import Verdict
from proxy.state.memory_store import MemoryStateStore
from proxy.state.snapshot import ClusterState
from proxy.state.store import StateStoreError
from proxy.switch import fleet_following
from proxy.switch.executor import SwitchExecutor, SwitchRefused
from proxy.switch.machine.phases import Phase


class FakeFleet:
    instance_id = "me:9092"

    def __init__(self, not_drained: list[str] | None = None, leader_alive: bool = True) -> None:
        self.leader_alive = leader_alive
        self.leader_leading: str | None = None
        self.announced: list[dict[str, Any]] = []
        self.acks: list[str] = []
        self.missing = not_drained or []

    async def announce(self, intent: dict[str, Any]) -> None:
        self.announced.append(intent)

    async def ack_drained(self, switch_id: str, evidence: dict[str, Any]) -> None:
        self.acks.append(switch_id)

    async def not_drained(self, switch_id: str) -> list[str]:
        return self.missing

    async def members(self) -> list[dict[str, Any]]:
        leader = {"instance": "other:9092", "leading": self.leader_leading}
        return [{"instance": self.instance_id}, *([leader] if self.leader_alive else [])]

    async def intents(self) -> AsyncIterator[dict[str, Any]]:
        await asyncio.Event().wait()
        yield {}


def executor(fleet: FakeFleet, store: MemoryStateStore | None = None) -> SwitchExecutor:
    config = proxy_config({"A": "127.0.0.1:1", "B": "127.0.0.1:2"}, "A", mirrors=[{"source": "A", "target": "B"}],
                          switch={"drain_timeout_s": 0.3, "fetch_hold_timeout_s": 0.2})
    switch = SwitchExecutor(ProxyContext(config, Metrics(clusters=["A", "B"])), store=store or MemoryStateStore())
    switch.fleet = fleet
    return switch


FENCE = {"switch_id": "sw-other", "phase": "fence", "leader": "other:9092", "source": "A", "target": "B",
         "epoch_before": 0}


def test_a_leader_whose_follower_never_drains_aborts_and_says_which() -> None:
    async def scenario() -> tuple[dict[str, Any], list[str]]:
        fleet = FakeFleet(not_drained=["other:9092"])
        switch = executor(fleet)
        await switch.resume_from_store()
        switch_id = switch.start_switch("B", "planned", False, 30.0)
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if switch.machine.phase == Phase.ABORTED:
                break
        await switch.close()
        return switch.record(switch_id) or {}, [i["phase"] for i in fleet.announced]

    record, phases = asyncio.run(scenario())
    assert record["outcome"] == "aborted"
    assert "instance(s) other:9092 did not report drained" in record["reason"]
    assert phases == ["fence", "aborted"]


def test_a_follower_fences_acknowledges_its_drain_and_refuses_its_own_switch() -> None:
    async def scenario() -> tuple[bool, list[str], str]:
        fleet = FakeFleet()
        switch = executor(fleet)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        await switch.flush()
        try:
            switch.start_switch("B", "planned", False, 30.0)
            refused = ""
        except SwitchRefused as exc:
            refused = str(exc)
        answer = switch.produce_fence.fenced, fleet.acks, refused
        await switch.close()
        return answer

    fenced, acks, refused = asyncio.run(scenario())
    assert fenced and acks == ["sw-other"]
    assert "follows switch sw-other" in refused


def test_a_follower_unfences_when_the_leaders_switch_aborts() -> None:
    async def scenario() -> tuple[bool, str | None]:
        switch = executor(FakeFleet())
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        switch._on_intent({**FENCE, "phase": "aborted"})
        answer = switch.produce_fence.fenced, switch.following
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (False, None)


def test_a_follower_flips_when_the_store_shows_the_leaders_flip() -> None:
    async def scenario() -> tuple[str, int, bool, bool]:
        store = MemoryStateStore()
        switch = executor(FakeFleet(), store)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        follow = asyncio.get_running_loop().create_task(switch.follow_store(0.01))
        await store.compare_and_swap(0, ClusterState("B", 1))  # the leader's flip
        for _ in range(100):
            await asyncio.sleep(0.01)
            if switch.context.active == "B":
                break
        answer = switch.context.active, switch.machine.epoch, switch.produce_fence.fenced, switch.interceptor.holding
        follow.cancel()
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == ("B", 1, False, True)


def test_an_intent_from_another_epoch_is_not_followed() -> None:
    async def scenario() -> tuple[bool, str | None]:
        switch = executor(FakeFleet())
        await switch.resume_from_store()
        switch._on_intent({**FENCE, "epoch_before": 3})
        answer = switch.produce_fence.fenced, switch.following
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (False, None)


def test_a_follower_whose_leader_died_before_the_flip_lifts_its_fence() -> None:
    async def scenario() -> tuple[bool, str | None, str]:
        switch = executor(FakeFleet(leader_alive=False))
        await switch.resume_from_store()
        switch._on_intent(FENCE)  # the leader other:9092 is not among the members: its lease expired
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if switch.following is None:
                break
        answer = switch.produce_fence.fenced, switch.following, switch.context.active
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (False, None, "A")


def test_a_follower_whose_leader_died_after_the_flip_follows_it() -> None:
    async def scenario() -> tuple[bool, str, int]:
        store = MemoryStateStore()
        switch = executor(FakeFleet(leader_alive=False), store)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        await store.compare_and_swap(0, ClusterState("B", 1))  # flipped, then died; no watch running here
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if switch.following is None:
                break
        answer = switch.produce_fence.fenced, switch.context.active, switch.machine.epoch
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (False, "B", 1)


def test_a_follower_answers_with_the_leaders_record_once_the_switch_ended() -> None:
    async def scenario() -> dict[str, Any] | None:
        store = MemoryStateStore()
        switch = executor(FakeFleet(), store)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        await store.put_record("switch", "sw-other", {"switch_id": "sw-other", "final": True, "outcome": "aborted"})
        switch._on_intent({**FENCE, "phase": "aborted"})
        await switch.flush()
        record = switch.record("sw-other")
        await switch.close()
        return record

    assert asyncio.run(scenario()) == {"switch_id": "sw-other", "final": True, "outcome": "aborted"}


def test_a_follower_whose_leader_ended_the_switch_unheard_asks_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet_following, "LEADER_CHECK_S", 0.01)

    async def scenario() -> tuple[bool, bool, bool, str | None]:
        fleet = FakeFleet()
        fleet.leader_leading = "sw-other"
        switch = executor(fleet)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        for _ in range(50):  # the leader is seen leading
            await asyncio.sleep(0.01)
        still_fenced = switch.produce_fence.fenced
        fleet.leader_leading = None  # it aborted, and its announcement never reached etcd
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if switch.following is None:
                break
        answer = still_fenced, switch.produce_fence.fenced, switch.context.active == "A", switch.following
        await switch.close()
        return answer

    assert asyncio.run(scenario()) == (True, False, True, None)


def test_a_follower_that_regains_the_store_mid_switch_stays_fenced_for_the_leader() -> None:
    """etcd back while the leader's catch-up still runs: lifting the fence then would let writes reach A
    that the leader's catch-up has to chase (found with etcd restarted mid-switch)."""
    async def scenario() -> tuple[bool, bool, bool]:
        switch = executor(FakeFleet())
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        await switch.on_lease(Verdict.LOST)
        assert await switch.on_lease(Verdict.REGAINED)
        during = switch.produce_fence.fenced, switch.state_lost
        switch._on_intent({**FENCE, "phase": "aborted"})
        after = switch.produce_fence.fenced
        await switch.close()
        return *during, after

    assert asyncio.run(scenario()) == (True, False, False)


def test_a_drain_acknowledgement_that_etcd_refused_is_written_once_it_answers() -> None:
    class FlakyFleet(FakeFleet):
        def __init__(self) -> None:
            super().__init__()
            self.refusals = 2

        async def ack_drained(self, switch_id: str, evidence: dict[str, Any]) -> None:
            if self.refusals:
                self.refusals -= 1
                raise StateStoreError("etcd unreachable")
            await super().ack_drained(switch_id, evidence)

    async def scenario() -> list[str]:
        fleet = FlakyFleet()
        switch = executor(fleet)
        await switch.resume_from_store()
        switch._on_intent(FENCE)
        await switch.flush()
        await switch.close()
        return fleet.acks

    assert asyncio.run(scenario()) == ["sw-other"]


def test_an_operator_fence_put_up_through_another_instance_is_followed() -> None:
    """Maintenance fences the fleet: an instance that did not get the call must stop writes as well."""
    async def scenario() -> list[bool]:
        store = MemoryStateStore()
        switch = executor(FakeFleet(), store)
        await switch.resume_from_store()
        follow = asyncio.get_running_loop().create_task(switch.follow_store(0.01))
        seen = []
        for fenced in (True, False):
            await store.compare_and_swap(0, ClusterState("A", 0, operator_fenced=fenced))  # the other instance
            for _ in range(100):
                await asyncio.sleep(0.01)
                if switch.produce_fence.fenced == fenced:
                    break
            seen.append(switch.produce_fence.fenced)
        follow.cancel()
        await switch.close()
        return seen

    assert asyncio.run(scenario()) == [True, False]
