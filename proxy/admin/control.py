"""What the admin API may ask of the proxy: status, readiness, fences and switches.

The admin layer only knows the `ProxyControl` protocol; this class binds it to the running proxy
and, for switches and fences, to the executor that drives the pure switch state machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.admin.api import SwitchRejected
from proxy.admin.audit import AuditLog
from proxy.dataplane.context import ProxyContext
from proxy.log import admin as log
from proxy.readiness.collect import ReadinessReader, previous_source
from proxy.readiness.scoring import score
from proxy.state.store import SwitchStateStore
from proxy.switch.executor import SwitchExecutor, SwitchRefused
from proxy.upstream.cluster_admin import AdminError


class Control:
    """The running proxy as seen by the admin API."""

    def __init__(self, context: ProxyContext, audit: AuditLog | None = None,
                 store: SwitchStateStore | None = None) -> None:
        self.context = context
        self.executor = SwitchExecutor(context, audit, store)
        self._exported_requests: dict[tuple[str, str], int] = {}
        self.readiness_reader = ReadinessReader(self, context.config.readiness.transfer_price_per_gb)

    def status(self) -> dict[str, Any]:
        return {**self.context.status(), "switch": self.executor.status(), "state": self.executor.state_status()}

    def readiness(self, target: str) -> dict[str, Any]:
        """The scorecard for a switch to `target` (from the active cluster, or, once `target` is
        active, from the cluster the last switch left); its scores also go to the metrics."""
        if target not in self.context.config.clusters:
            raise SwitchRejected(f"unknown cluster {target!r}")
        source = None
        if target == self.context.active:
            source = previous_source(self.readiness_reader.records(), target)
            if source is None:
                raise SwitchRejected(f"{target} is the active cluster and no switch into it is recorded")
        card = score(self.readiness_reader.evidence(target, source))
        metrics = self.context.metrics
        for gate in card.gates:
            metrics.readiness_score.labels(target, gate.gate).set(gate.score)
        metrics.readiness_candidate.labels(target).set(1 if card.production_candidate else 0)
        self._export_inventory()
        return card.to_dict() | {"clients": self.context.inventory.snapshot()}

    def _export_inventory(self) -> None:
        metrics = self.context.metrics
        for shape in self.context.inventory.snapshot():
            labels = (shape["library"], shape["version"])
            metrics.client_software_connections.labels(*labels).set(shape["open_connections"])
            counted = self._exported_requests.get(labels, 0)
            metrics.client_software_requests_total.labels(*labels).inc(max(0, shape["requests"] - counted))
            self._exported_requests[labels] = max(counted, shape["requests"])

    async def readiness_loop(self, every_s: float = 15.0) -> None:
        """Keep the readiness gauges current for every cluster but the active one."""
        while True:
            await asyncio.sleep(every_s)
            for name in self.context.config.clusters:
                try:
                    self.readiness(name)
                except SwitchRejected:
                    continue  # the active cluster before any switch into it
                except Exception:  # evidence is best effort: the loop must outlive one bad reading
                    log.exception("readiness of %s could not be scored", name)

    def is_ready(self) -> bool:
        return self.context.is_ready()

    def _check_target(self, target: str, mode: str) -> None:
        config = self.context.config
        if target not in config.clusters:
            raise SwitchRejected(f"unknown cluster {target!r}")
        if mode == "planned" and not config.has_mirror(self.context.active, target):
            raise SwitchRejected(f"no mirror {self.context.active}->{target} in the config's mirrors: a planned "
                                 "switch proves MM2 copied everything, so it needs that flow")

    async def governance_preflight(self, target: str, mode: str, accept_gaps: bool) -> dict[str, Any] | None:
        """The governance gate before a switch; an emergency switch never fails on it."""
        self._check_target(target, mode)
        try:
            return await self.executor.governance_preflight(target, mode, accept_gaps)
        except SwitchRefused as exc:
            raise SwitchRejected(str(exc)) from exc
        except Exception as exc:
            if mode != "emergency":
                raise
            return {"error": f"governance not compared: {exc!r}"}

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False, governance: dict[str, Any] | None = None) -> str:
        self._check_target(target, mode)
        try:
            return self.executor.start_switch(target, mode, dry_run, timeout_s, accept_replay, governance)
        except SwitchRefused as exc:
            raise SwitchRejected(str(exc)) from exc

    def switch_record(self, switch_id: str) -> dict[str, Any] | None:
        return self.executor.record(switch_id)

    def fence(self) -> dict[str, Any]:
        try:
            return self.executor.fence()
        except SwitchRefused as exc:
            raise SwitchRejected(str(exc)) from exc

    def unfence(self) -> dict[str, Any]:
        try:
            return self.executor.unfence()
        except SwitchRefused as exc:
            raise SwitchRejected(str(exc)) from exc

    async def abort_transaction(self, cluster: str, transactional_id: str) -> dict[str, Any]:
        if cluster not in self.context.config.clusters:
            raise SwitchRejected(f"unknown cluster {cluster!r}")
        try:
            return await self.executor.abort_transaction(cluster, transactional_id)
        except AdminError as exc:
            raise SwitchRejected(f"abort of {transactional_id!r} on {cluster} failed: {exc}") from exc

    async def close(self) -> None:
        await self.executor.close()
