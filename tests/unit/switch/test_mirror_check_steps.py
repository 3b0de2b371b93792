"""A catch-up timeout names the step of the mirror check that hung; the check itself stays short.

Under load a drill's first switch timed out "waiting for the mirror check" after 55 s with no word
of which of its requests was slow. These tests pin the three things found: the abort reason names
the running step, the switch's MM2 reader goes on from the background reader instead of offset 0,
and the per-partition last-data reads run several at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.switch.check_steps import CheckSteps
from proxy.switch.executor import LAST_DATA_READS_IN_FLIGHT, SwitchExecutor
from proxy.switch.machine import events as ev
from proxy.switch.machine.actions import CheckGroupOffsets
from proxy.switch.machine.phases import Phase
from proxy.upstream.cluster_admin import PartitionInfo, TopicPartition

from .scenario import driven

LATE = 10_020
OFFSETS_TOPIC = "mm2-offsets.A.internal"


def test_a_catch_up_timeout_says_what_the_outstanding_check_was_doing() -> None:
    m = driven(4)
    busy = "mirror check step 'MM2 progress topics on B' running for 41.0 s"
    m.handle(ev.TimeoutElapsed(now=LATE, phase=Phase.CATCH_UP, busy=busy))
    assert m.record("s1").reason == f"timeout in catch_up waiting for the mirror check ({busy})"  # type: ignore[union-attr]


def test_steps_name_the_running_one_its_progress_and_the_finished_ones() -> None:
    now = [100.0]
    steps = CheckSteps(clock=lambda: now[0])
    assert steps.describe() == ""
    steps.start("mirror")
    steps.step("metadata of A")
    now[0] += 0.5
    steps.step("MM2 progress topics on B")
    steps.note("reading mm2-offsets.A.internal-3 offsets 0..90000")
    now[0] += 41.25
    assert steps.describe() == ("mirror check step 'MM2 progress topics on B' running for 41.2 s, "
                                "reading mm2-offsets.A.internal-3 offsets 0..90000; before it: metadata of A 0.5 s")
    assert steps.finish() == "MM2 progress topics on B 41.25 s, metadata of A 0.50 s"  # slowest first, for the log
    assert steps.describe() == ""


class FakeAdmin:
    """One cluster: `orders` with `n` partitions, and MM2's offsets topic with `mm2_records` records."""

    def __init__(self, n: int = 1, mm2_records: int = 0, read_delay_s: float = 0.0) -> None:
        self.parts = {("orders", p): PartitionInfo(leader=1, internal=False) for p in range(n)}
        if mm2_records:
            self.parts[(OFFSETS_TOPIC, 0)] = PartitionInfo(leader=1, internal=True)
        self.mm2_records = mm2_records
        self.read_delay_s = read_delay_s
        self.reads: list[tuple[TopicPartition, int, int]] = []
        self.in_flight = self.most_in_flight = 0
        self.hang = asyncio.Event()

    async def partitions(self) -> dict[TopicPartition, PartitionInfo]:
        return dict(self.parts)

    async def replicated_partitions(self) -> dict[TopicPartition, PartitionInfo]:
        return {tp: i for tp, i in self.parts.items() if not tp[0].startswith("mm2-")}

    async def end_offsets(self, parts: dict[TopicPartition, PartitionInfo], isolation: int = 0) -> dict[Any, int]:
        return {tp: self.mm2_records if tp[0] == OFFSETS_TOPIC else 10 for tp in parts}

    async def read_all(self, tp: TopicPartition, leader: int, end: int, start: int = 0) -> list[Any]:
        self.reads.append((tp, start, end))
        if self.read_delay_s < 0:
            await self.hang.wait()
        key = b'["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]'
        return [(o, key, b'{"offset":%d}' % o) for o in range(start, end)]

    async def last_committed_data_offset(self, tp: TopicPartition, leader: int, end: int) -> int:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.read_delay_s)
        self.in_flight -= 1
        return end - 1


def executor_with(source: FakeAdmin, target: FakeAdmin, monkeypatch: pytest.MonkeyPatch) -> SwitchExecutor:
    config = proxy_config({"A": "127.0.0.1:1", "B": "127.0.0.1:2"}, "A", mirrors=[{"source": "A", "target": "B"}])
    switch = SwitchExecutor(ProxyContext(config, Metrics(clusters=["A", "B"])))
    monkeypatch.setattr(switch, "_admin", lambda cluster, background=False: source if cluster == "A" else target)
    return switch


def test_a_hung_read_of_mm2_topics_is_named_with_its_partition_and_range(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> str:
        target = FakeAdmin(mm2_records=90_000, read_delay_s=-1)
        switch = executor_with(FakeAdmin(), target, monkeypatch)
        switch.steps.start("mirror")
        check = asyncio.ensure_future(switch.mirror_progress("A", "B"))
        await asyncio.sleep(0.01)
        described = switch.steps.describe()
        check.cancel()
        return described

    described = asyncio.run(scenario())
    assert described.startswith("mirror check step 'MM2 progress topics on B' running for 0.0 s, "
                                f"reading {OFFSETS_TOPIC}-0 offsets 0..90000; before it: metadata of A 0.0 s")


def test_the_switch_goes_on_from_the_background_reader_instead_of_offset_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[list[Any], dict[TopicPartition, int]]:
        target = FakeAdmin(mm2_records=90_000)
        switch = executor_with(FakeAdmin(), target, monkeypatch)
        await switch.mirror_progress("A", "B", background=True)
        target.mm2_records = 90_005
        target.reads.clear()
        await switch.mirror_progress("A", "B")
        return target.reads, switch._mirrors[("A", "B", False)].mirrored

    reads, mirrored = asyncio.run(scenario())
    assert reads == [((OFFSETS_TOPIC, 0), 90_000, 90_005)]
    assert mirrored == {("orders", 0): 90_004}


def test_last_data_offsets_are_read_several_partitions_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[int, list[int | None]]:
        source = FakeAdmin(n=30, read_delay_s=0.005)
        switch = executor_with(source, FakeAdmin(n=30), monkeypatch)
        progress = await switch.mirror_progress("A", "B")
        return source.most_in_flight, [p.source_last_data_offset for p in progress]

    most, lasts = asyncio.run(scenario())
    assert 1 < most <= LAST_DATA_READS_IN_FLIGHT  # one at a time, 300 partitions outlasted the deadline
    assert lasts == [9] * 30


def test_a_hung_group_offset_read_is_named_with_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    class Groups(FakeAdmin):
        async def group_states(self) -> dict[str, bool]:
            return {"billing": False, "audit": True}

        async def committed(self, group: str) -> dict[TopicPartition, int]:
            await self.hang.wait()
            return {}

    async def scenario() -> str:
        switch = executor_with(Groups(), Groups(), monkeypatch)
        switch._do_CheckGroupOffsets(CheckGroupOffsets("A", "B", 0))
        await asyncio.sleep(0.01)
        described = switch.steps.describe()
        switch._cancel_pending()
        return described

    assert asyncio.run(scenario()).startswith("group offsets check step 'committed offsets and positions' running "
                                              "for 0.0 s, group billing, 0 of 2 groups done; before it: metadata")


def test_a_background_read_still_running_is_waited_for_not_done_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[list[Any], str]:
        target = FakeAdmin(mm2_records=90_000, read_delay_s=-1)
        switch = executor_with(FakeAdmin(), target, monkeypatch)
        background = asyncio.ensure_future(switch.mirror_progress("A", "B", background=True))
        await asyncio.sleep(0.01)  # the first background read, from offset 0, is under way
        switch.steps.start("mirror")
        check = asyncio.ensure_future(switch.mirror_progress("A", "B"))
        await asyncio.sleep(0.01)
        described = switch.steps.describe()
        target.read_delay_s = 0
        target.hang.set()
        await asyncio.gather(background, check)
        return target.reads, described

    reads, described = asyncio.run(scenario())
    assert reads == [((OFFSETS_TOPIC, 0), 0, 90_000)]
    assert described.startswith("mirror check step 'the background read of MM2 progress topics on B'")
