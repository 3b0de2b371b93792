"""Following a switch another instance of the fleet leads, and failing closed when the shared state is
out of reach. A mixin of `SwitchExecutor`: these paths act outside the (idle) machine of a follower.

A follower fences and drains when the leader announces a switch (acknowledging only a clean drain),
follows the flip it sees in the store in the leader's order (hold fetches, route, reconnect, lift the
fence), and lifts the fence when the switch aborts. A leader that dies or whose announcement is lost
is settled by the store once its registration says it no longer leads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.dataplane.context import ProxyContext
from proxy.log import switch as log
from proxy.state.lease_clock import Verdict
from proxy.state.snapshot import SWITCH_RECORDS, ClusterState
from proxy.state.store import FleetCoordinator, StateStoreError, SwitchStateStore
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine import actions as act
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from proxy.switch.machine.machine import SwitchMachine
from proxy.switch.machine.phases import DisconnectScope, Limits
from proxy.switch.machine.record import SwitchRecord

DRAIN_POLL_S = 0.02
LEADER_CHECK_S = 1.0


class FleetFollowing:
    """The follower's and the fail-closed half of the executor (state it shares is declared here)."""

    context: ProxyContext
    store: SwitchStateStore
    machine: SwitchMachine
    fleet: FleetCoordinator | None
    following: str | None
    state_lost: bool
    transactions: TransactionFence
    produce_fence: ProduceFence
    interceptor: SwitchInterceptor
    records: dict[str, SwitchRecord]
    stored_records: dict[str, dict[str, Any]]
    persisted: ClusterState
    _limits: Limits
    _unknown_fate_at_fence: int
    _tasks: set[asyncio.Task[Any]]

    # carried out by the executor
    def _write_later(self, write: Any, what: str) -> None:
        raise NotImplementedError

    def _outstanding_writes(self) -> int:
        raise NotImplementedError

    def _show_persisted(self, cluster: ClusterState) -> None:
        raise NotImplementedError

    def _do_UnfenceTransactions(self, action: act.UnfenceTransactions) -> None:
        raise NotImplementedError

    def _do_UnfenceProduce(self, action: act.UnfenceProduce) -> None:
        raise NotImplementedError

    def _do_DisconnectClients(self, action: act.DisconnectClients) -> None:
        raise NotImplementedError

    async def on_lease(self, verdict: Verdict) -> bool:
        """Fail closed while the shared state is out of reach; open again only on the same state.

        An instance cut off for a whole lease TTL may have missed a flip, so it refuses produce and
        new transactions (clients retry) instead of writing on a stale view. When it reaches the
        store again it re-reads the state: the same active cluster and epoch lift that fence (unless
        an operator or a switch wants the fence anyway); anything else keeps it up. Answers False when
        the state could not be read (the caller reports REGAINED again later)."""
        if verdict == Verdict.LOST:
            self.state_lost = True
            log.error("switch state out of reach for a lease TTL: produce and new transactions fenced until "
                      "it is read again")
            self.transactions.fence()
            self.produce_fence.fence()
            self.context.metrics.fenced.set(1)
            return True
        try:
            stored = await self.store.load()
        except StateStoreError as exc:
            log.warning("store reachable again but the state could not be read: %s", exc)
            return False
        mine = (self.machine.active, self.machine.epoch)
        if stored is not None and stored.cluster.epoch > self.machine.epoch and not self.machine.running:
            # A switch happened while this instance was cut off. It fenced before its lease could expire,
            # so the leader flipped without it only after it had stopped writing to the source; taking the
            # stored cluster now is what a restart would do.
            log.warning("the fleet switched to %s at epoch %d while this instance was cut off; following",
                        stored.cluster.active, stored.cluster.epoch)
            self.state_lost = False
            self._follow_flip(stored.cluster)
            return True
        if stored is None or (stored.cluster.active, stored.cluster.epoch) != mine:
            seen = None if stored is None else (stored.cluster.active, stored.cluster.epoch)
            log.critical("the stored switch state %s is not the one this instance routes by %s; staying "
                         "fenced (restart it to resume)", seen, mine)
            return True
        self.state_lost = False
        if not self._fence_wanted():
            self._do_UnfenceTransactions(act.UnfenceTransactions())
            self._do_DisconnectClients(act.DisconnectClients(DisconnectScope.REFUSED_PRODUCERS))
            self._do_UnfenceProduce(act.UnfenceProduce())
        log.warning("switch state read again (active %s, epoch %d): fail-closed fence lifted", *mine)
        return True

    # -- following a switch another instance leads ------------------------------------------------------

    async def follow_intents(self) -> None:
        """Fence and drain for a switch another instance announced; lift the fence when it aborts."""
        if self.fleet is None:
            return
        async for intent in self.fleet.intents():
            try:
                self._on_intent(intent)
            except Exception:
                log.exception("could not follow switch intent %s", intent)

    def _on_intent(self, intent: dict[str, Any]) -> None:
        if self.fleet is None or intent.get("leader") == self.fleet.instance_id:
            return
        switch_id, phase = intent.get("switch_id"), intent.get("phase")
        if phase == "fence" and isinstance(switch_id, str) and self.following != switch_id:
            if self.machine.running or intent.get("epoch_before") != self.machine.epoch:
                log.warning("switch %s of %s not followed: this instance is at epoch %d%s", switch_id,
                            intent.get("leader"), self.machine.epoch, " and running its own switch"
                            if self.machine.running else "")
                return
            self.following = switch_id
            self._unknown_fate_at_fence = self.context.writes_of_unknown_fate
            self.transactions.fence()
            self.produce_fence.fence()
            self.context.metrics.fenced.set(1)
            log.info("following switch %s led by %s: fenced, draining", switch_id, intent.get("leader"))
            self._write_later(self._follower_drain(switch_id), f"drain for {switch_id}")
            watcher = asyncio.get_running_loop().create_task(self._watch_leader(switch_id, str(intent.get("leader"))),
                                                             name=f"leader-of-{switch_id}")
            self._tasks.add(watcher)
            watcher.add_done_callback(self._tasks.discard)
        elif phase == "aborted" and self.following == switch_id:
            self.following = None
            self._lift_follower_fence()
            log.info("switch %s led by %s aborted: fence lifted", switch_id, intent.get("leader"))
        elif phase == "succeeded" and self.following == switch_id:
            self.following = None  # the flip itself arrives through the store's watch
        if phase in ("succeeded", "aborted"):  # the leader's record, for GET /v1/switch/{id} here too
            self._write_later(self._refresh_records(), "switch records")

    async def _refresh_records(self) -> None:
        stored = await self.store.load()
        if stored is not None:
            self.stored_records.update({k: dict(v) for k, v in stored.of_kind(SWITCH_RECORDS).items()})

    async def _follower_drain(self, switch_id: str) -> None:
        """Acknowledge only a clean drain: no ack makes the leader's drain time out, which aborts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.context.config.switch.drain_timeout_s
        while self._outstanding_writes() and loop.time() < deadline and self.following == switch_id:
            await asyncio.sleep(DRAIN_POLL_S)
        outstanding = self._outstanding_writes()
        unknown = self.context.writes_of_unknown_fate - self._unknown_fate_at_fence
        if self.following != switch_id or outstanding or unknown or self.fleet is None:
            log.error("switch %s: not acknowledging the drain (%d in flight, %d of unknown fate)", switch_id,
                      outstanding, unknown)
            return
        while self.following == switch_id:  # etcd may be away for a moment: the leader waits until its timeout
            try:
                await self.fleet.ack_drained(switch_id, {"outstanding": 0, "unknown_fate": 0})
                return
            except StateStoreError as exc:
                log.warning("switch %s: drain acknowledgement not written yet: %s", switch_id, exc)
                await asyncio.sleep(DRAIN_POLL_S * 5)

    async def _watch_leader(self, switch_id: str, leader: str) -> None:
        """The outcome announcement may never come: the leader died, or etcd was away when it wrote
        it. So the leader's registration is watched too: once it is gone (lease expired), or it was
        seen leading this switch and no longer is (or never was within two lease TTLs), the store
        decides. The same epoch means no flip (lift the fence); a higher one means a flip (follow)."""
        if self.fleet is None:
            return
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + 2 * self.context.config.state.lease_ttl_s
        seen_leading = False
        while self.following == switch_id:
            await asyncio.sleep(LEADER_CHECK_S)
            try:
                info = next((m for m in await self.fleet.members() if m.get("instance") == leader), None)
                leading = info is not None and info.get("leading") == switch_id
                seen_leading = seen_leading or leading
                over = info is None or (not leading and (seen_leading or loop.time() > give_up_at))
                stored = await self.store.load() if over else None
            except StateStoreError as exc:
                log.warning("switch %s: cannot check on leader %s: %s", switch_id, leader, exc)
                continue
            if not over or self.following != switch_id:
                continue
            self.following = None
            if stored is not None and stored.cluster.epoch > self.machine.epoch:
                self._follow_flip(stored.cluster)
            else:
                self._lift_follower_fence()
            log.warning("switch %s: leader %s %s without an outcome this instance saw; it is on %s at epoch %d",
                        switch_id, leader, "is gone (lease expired)" if info is None else "ended it",
                        self.machine.active, self.machine.epoch)

    def _follow_flip(self, cluster: ClusterState) -> None:
        """Another instance flipped the fleet: hold fetches, route to the target, reconnect everyone,
        lift the fence: the leader's order, so this instance's clients see what the leader's see."""
        self.records.update(self.machine.records)
        self.interceptor.hold_fetches()
        self.context.set_active(cluster.active, cluster.epoch)
        self.machine = SwitchMachine(cluster.active, cluster.epoch, limits=self._limits)
        self.persisted = cluster
        self.interceptor.clear_producer_ids = True
        count = self.context.disconnect_all("switch: reconnect to the new active cluster")
        self.following = None
        self._lift_follower_fence()
        asyncio.get_running_loop().call_later(self.context.config.switch.fetch_hold_timeout_s,
                                              self._release_follower_hold, cluster.epoch)
        log.warning("followed the fleet to %s at epoch %d (%d client connections closed)", cluster.active,
                    cluster.epoch, count)

    def _release_follower_hold(self, epoch: int) -> None:
        if not self.machine.running and self.machine.epoch == epoch:
            self.interceptor.release_fetches()

    def _lift_follower_fence(self) -> None:
        if self._fence_wanted() or self.state_lost:
            return
        self._do_UnfenceTransactions(act.UnfenceTransactions())
        self._do_DisconnectClients(act.DisconnectClients(DisconnectScope.REFUSED_PRODUCERS))
        self._do_UnfenceProduce(act.UnfenceProduce())

    def _announce(self, switch_id: str, phase: str, source: str, target: str, epoch_before: int) -> None:
        if self.fleet is not None:
            self._write_later(self.fleet.announce({"switch_id": switch_id, "phase": phase, "source": source,
                                                   "target": target, "epoch_before": epoch_before}),
                              f"switch intent {phase}")

    async def _fleet_not_drained(self) -> list[str]:
        run = self.machine.state.run
        if self.fleet is None or run is None:
            return []
        try:
            return await self.fleet.not_drained(run.switch_id)
        except StateStoreError as exc:
            return [f"(fleet state unreachable: {exc})"]

    def leading(self) -> str | None:
        """The id of the switch this instance runs, published with its registration for followers."""
        run = self.machine.state.run
        return run.switch_id if self.machine.running and run is not None and not run.dry_run else None

    def _fence_wanted(self) -> bool:
        """A fence other than fail-closed holds: the operator's, this instance's own switch, or the switch
        of another instance it follows (lifting that one early lets writes reach the source during the
        leader's catch-up)."""
        state = self.machine.state
        return self.following is not None or state.operator_fenced or (
            state.run is not None and state.running and state.run.fenced)
