"""The executor's durable half: resume from the switch-state store, keep it written, show it.

A mixin of `SwitchExecutor`. Writes other than the flip's (which `_do_FlipActive` awaits before
routing moves) go through `_write_later`: in the background, in order, failures logged and counted,
never an abort.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from proxy.log import switch as log
from proxy.state.resume import FIRST_BOOT, Resumed, resume
from proxy.state.snapshot import PRODUCER_ID_RECORDS, SWITCH_RECORDS, ClusterState
from proxy.state.store import StateStoreError
from proxy.switch.fleet_following import FleetFollowing
from proxy.switch.machine import events as ev
from proxy.switch.machine.machine import SwitchMachine

STATE_POLL_S = 5.0


class DurableState(FleetFollowing):
    """Resume, persist and report the switch state (state it shares is declared in FleetFollowing)."""

    resumed: Resumed | None
    fleet_view: Callable[[], list[dict[str, Any]]] | None
    governance: dict[str, dict[str, Any]]
    """switch id -> the governance preflight's report (set before the switch starts)."""
    _writes: set[asyncio.Task[Any]]
    _ids: Iterator[int]

    def now(self) -> int:
        raise NotImplementedError

    def _feed(self, event: ev.Event) -> None:
        raise NotImplementedError

    def state_status(self) -> dict[str, Any]:
        """Where the switch state lives and where this process's came from (for /v1/status)."""
        resumed = self.resumed
        return {"store": self.store.description, "persistent": self.store.persistent,
                "resumed_from": None if resumed is None else resumed.source,
                "note": None if resumed is None else resumed.note,
                "persisted": {"active": self.persisted.active, "switch_epoch": self.persisted.epoch,
                              "operator_fenced": self.persisted.operator_fenced},
                "switch_records": len(self.stored_records.keys() | self.machine.records.keys()),
                "state_lost": self.state_lost,
                "fleet": None if self.fleet_view is None else self.fleet_view()}

    # -- durable state -------------------------------------------------------------------------------

    async def resume_from_store(self) -> Resumed:
        """Read the store and take its state; call before any listener opens. Raises StateStoreError
        (unreadable, corrupt, unknown cluster): the proxy must not start on a guess."""
        config = self.context.config
        resumed = resume(await self.store.load(), config.active, config.clusters, self.store.description)
        if resumed.source == FIRST_BOOT:
            await self.store.compare_and_swap(0, resumed.cluster)
        for key, record in resumed.closed.items():
            await self.store.put_record(SWITCH_RECORDS, key, record)
        cluster = resumed.cluster
        self.context.set_active(cluster.active, cluster.epoch)
        self.machine = SwitchMachine(cluster.active, cluster.epoch, limits=self._limits)
        self.persisted = cluster
        self.stored_records = {k: dict(v) for k, v in resumed.records.items()}
        self._ids = itertools.count(len(self.stored_records) + 1)
        self.resumed = resumed
        self._keep_producer_id_origins(resumed)
        self._show_persisted(cluster)
        if cluster.operator_fenced:
            self._feed(ev.OperatorFenced(now=self.now()))
        (log.warning if resumed.note and resumed.source != FIRST_BOOT else log.info)(
            "switch state from %s: active %s, epoch %d%s%s", self.store.description, cluster.active, cluster.epoch,
            ", operator fence up" if cluster.operator_fenced else "", f" ({resumed.note})" if resumed.note else "")
        return resumed

    async def follow_store(self, every_s: float = STATE_POLL_S) -> None:
        """Keep the `kfp_state_*` gauges on what the store holds, so an alert sees this process's routing
        disagree with it (a hand-edited file, a write that failed, another instance's flip)."""
        async for stored in self.store.watch(every_s):
            self._show_persisted(stored.cluster)
            mine = (self.machine.active, self.machine.epoch)
            if self.fleet is not None and stored.cluster.epoch > self.machine.epoch and not self.machine.running \
                    and not self.state_lost:
                self._follow_flip(stored.cluster)
            elif self.fleet is not None and (stored.cluster.active, stored.cluster.epoch) == mine \
                    and stored.cluster.operator_fenced != self.machine.state.operator_fenced \
                    and not self.machine.running and not self.state_lost:
                self._follow_operator_fence(stored.cluster)
            elif (stored.cluster.active, stored.cluster.epoch) != mine and not self.machine.running:
                log.error("stored switch state (active %s, epoch %d) disagrees with this process (active %s, "
                          "epoch %d)", stored.cluster.active, stored.cluster.epoch, *mine)

    def _follow_operator_fence(self, cluster: ClusterState) -> None:
        """An operator fenced or unfenced the fleet through another instance: do the same here, or this
        instance's clients would go on writing while the operator believes every write is stopped."""
        self.persisted = cluster  # already stored: nothing to write back
        fenced = cluster.operator_fenced
        self._feed(ev.OperatorFenced(now=self.now()) if fenced else ev.OperatorUnfenced(now=self.now()))
        log.warning("operator %s through another instance of the fleet: followed here",
                    "fence put up" if fenced else "fence lifted")

    def _show_persisted(self, cluster: ClusterState) -> None:
        metrics = self.context.metrics
        metrics.state_switch_epoch.set(cluster.epoch)
        metrics.set_state_active(cluster.active)

    def _persist_fences(self) -> None:
        """An operator fence or unfence outside a switch: store it (in the background, in order)."""
        state = self.machine.state
        want = ClusterState(state.active, state.epoch, state.operator_fenced)
        if self.machine.running or want == self.persisted or (want.active, want.epoch) != (
                self.persisted.active, self.persisted.epoch):
            return
        self.persisted = want
        self._write_later(self.store.compare_and_swap(want.epoch, want), "fences")

    def _keep_producer_id_origins(self, resumed: Resumed) -> None:
        """Take the stored origins of transactional producers' ids, and store each change from now on:
        a producer that initialised before this process started still needs its verdict after a switch."""
        origins = self.interceptor.producer_ids
        taken = origins.restore(resumed.producer_ids)
        if taken:
            log.info("%d transactional producer id origin(s) resumed from %s", taken, self.store.description)

        def store(transactional_id: str, value: dict[str, Any] | None) -> None:
            self._write_later(self.store.put_record(PRODUCER_ID_RECORDS, transactional_id, value),
                              f"producer id origin of {transactional_id}")

        origins.on_change = store

    def _save_record(self, switch_id: str) -> None:
        record = self.machine.record(switch_id) or self.records.get(switch_id)
        if record is not None:
            data = record.to_dict()
            if switch_id in self.governance:  # the preflight's report belongs to the record it gated
                data["evidence_governance"] = self.governance[switch_id]
            self.stored_records[switch_id] = data
            self._write_later(self.store.put_record(SWITCH_RECORDS, switch_id, data), f"record {switch_id}")

    def _write_later(self, write: Awaitable[Any], what: str) -> None:
        async def run() -> None:
            try:
                await write
            except StateStoreError as exc:
                self.context.metrics.state_write_errors.inc()
                log.error("could not persist %s: %s", what, exc)

        task = asyncio.get_running_loop().create_task(run(), name=f"state-{what}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for every state write started so far (on shutdown: the last record must land)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
