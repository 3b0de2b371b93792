"""The switch executor carries out every action the machine asked for, even when one of them fails."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.switch.executor import SwitchExecutor
from proxy.switch.machine.fencing import HOLD_LIMIT_MS
from proxy.switch.machine.phases import Phase


def executor(hold_fenced_produce: bool = True) -> SwitchExecutor:
    config = proxy_config({"A": "127.0.0.1:1", "B": "127.0.0.1:2"}, "A",
                          mirrors=[{"source": "A", "target": "B"}],
                          switch={"hold_fenced_produce": hold_fenced_produce})
    return SwitchExecutor(ProxyContext(config, Metrics(clusters=["A", "B"])))


def test_a_failing_action_does_not_skip_the_ones_after_it_and_aborts_the_switch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[bool, Phase, str | None]:
        switch = executor()

        def broken(action: object) -> None:
            raise RuntimeError("audit log disk full")

        monkeypatch.setattr(switch, "_do_RecordPhase", broken)
        switch_id = switch.start_switch("B", "planned", False, 30.0)
        fenced_produce = switch.produce_fence.fenced  # an action listed after the broken one
        for _ in range(50):
            await asyncio.sleep(0.01)
            if switch.machine.phase in (Phase.ABORTED, Phase.ABORTING):
                break
        record = switch.record(switch_id) or {}
        await switch.close()
        return fenced_produce, switch.machine.phase, record.get("reason")

    fenced, phase, reason = asyncio.run(scenario())
    assert fenced
    assert phase in (Phase.ABORTING, Phase.ABORTED)
    assert reason is not None and "audit log disk full" in reason


class HeldProducer:
    """A client connection with a held Produce: the hold limit closes it."""

    def __init__(self) -> None:
        self.closed: str | None = None

    def close(self, reason: str) -> None:
        self.closed = reason


def test_a_switch_holds_fenced_produce_and_an_operator_fence_refuses() -> None:
    async def scenario() -> tuple[bool, bool]:
        switch = executor()
        switch.fence()
        await asyncio.sleep(0)
        operator_holds = switch.produce_fence.holding
        switch.unfence()
        await asyncio.sleep(0.05)
        switch.start_switch("B", "planned", False, 30.0)
        switch_holds = switch.produce_fence.holding
        await asyncio.sleep(0.05)  # the record's first write
        await switch.close()
        return operator_holds, switch_holds

    assert asyncio.run(scenario()) == (False, True)


def test_a_connection_held_for_the_limit_is_closed_and_the_switch_keeps_holding() -> None:
    async def scenario() -> tuple[bool, str | None, str | None, list[object]]:
        switch = executor()
        switch.produce_fence.fence(hold=True)
        old, young = HeldProducer(), HeldProducer()
        now = time.monotonic()
        switch.interceptor.held_producers.update({old: now - HOLD_LIMIT_MS / 1000, young: now})  # type: ignore[dict-item]
        switch._recycle_holds()
        await switch.close()
        return switch.produce_fence.holding, old.closed, young.closed, list(switch.interceptor.held_producers)

    holding, old_closed, young_closed, left = asyncio.run(scenario())
    assert holding and young_closed is None and len(left) == 1
    assert old_closed is not None and "held for its limit" in old_closed


def test_without_the_opt_in_a_switch_refuses_fenced_produce_as_before() -> None:
    async def scenario() -> bool:
        switch = executor(hold_fenced_produce=False)
        switch.start_switch("B", "planned", False, 30.0)
        holds = switch.produce_fence.holding
        await asyncio.sleep(0.05)
        await switch.close()
        return holds

    assert asyncio.run(scenario()) is False
