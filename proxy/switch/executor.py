"""The thin asyncio side of the switch: carry out the machine's actions, feed back its events.

Effects are applied synchronously, in list order, with no await between them, so a flip, a hold
and a disconnect happen atomically for every connection on this loop. Requests start one task
each; the task's result comes back as exactly one of the events the request names. Finish cancels
whatever is still pending, and the machine ignores replies that arrive late by rule.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.admin.audit import AuditLog
from proxy.dataplane.context import WRITE_APIS, ProxyContext
from proxy.log import switch as log
from proxy.state.lease_clock import Verdict
from proxy.state.memory_store import MemoryStateStore
from proxy.state.resume import FIRST_BOOT, Resumed, resume
from proxy.state.snapshot import SWITCH_RECORDS, ClusterState
from proxy.state.store import FleetCoordinator, StateStoreError, SwitchStateStore
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine import actions as act
from proxy.switch.machine import events as ev
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from proxy.switch.machine.machine import SwitchMachine
from proxy.switch.machine.phases import DisconnectScope, Limits, Phase
from proxy.switch.machine.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress
from proxy.switch.machine.record import SwitchRecord
from proxy.switch.machine.state import SwitchProtocolError
from proxy.upstream.cluster_admin import READ_COMMITTED, AdminError, ClusterAdmin
from proxy.upstream.mirror_progress import MirrorProgressReader
from proxy.upstream.position_prover import PositionProver

DRAIN_POLL_S = 0.02
PROGRESS_EVERY_S = 5.0
STATE_POLL_S = 5.0
FLEET_REPORT_EARLY_MS = 150
LEADER_CHECK_S = 1.0


class SwitchRefused(Exception):
    """The machine refused an operator request (a switch is running, bad target, ...)."""


class SwitchExecutor:
    """Owns the machine, the fences and the interceptor of one proxy process."""

    def __init__(self, context: ProxyContext, audit: AuditLog | None = None,
                 store: SwitchStateStore | None = None) -> None:
        self.context = context
        self.audit = audit or AuditLog(None)
        self.store: SwitchStateStore = store or MemoryStateStore()
        cfg = context.config.switch
        self._limits = Limits.from_seconds(cfg.drain_timeout_s, cfg.catch_up_timeout_s, cfg.fetch_hold_timeout_s)
        self.machine = SwitchMachine(context.active, context.switch_epoch, limits=self._limits)
        self.persisted = ClusterState(context.active, context.switch_epoch)
        self.stored_records: dict[str, dict[str, Any]] = {}
        self.resumed: Resumed | None = None
        self._writes: set[asyncio.Task[Any]] = set()
        self.state_lost = False
        """Fail closed: the shared state was out of reach for a lease TTL; produce stays fenced."""
        self.fleet_view: Callable[[], list[dict[str, Any]]] | None = None
        self.fleet: FleetCoordinator | None = None
        self.following: str | None = None
        """The id of a switch another instance leads that this one is fenced for."""
        self.transactions = TransactionFence()
        self.produce_fence = ProduceFence(self.transactions)
        self.interceptor = SwitchInterceptor(context, self.produce_fence, self.transactions)
        self.interceptor.on_rejoined = self._rejoined
        context.interceptors.append(self.interceptor)
        self.records: dict[str, SwitchRecord] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._admins: dict[tuple[str, bool], ClusterAdmin] = {}
        self._mirrors: dict[tuple[str, str, bool], MirrorProgressReader] = {}
        self._progress: dict[tuple[str, str], dict[tuple[str, int], PartitionProgress]] = {}
        self._provers: dict[tuple[str, str], PositionProver] = {}
        self._rejected: str | None = None
        self._unknown_fate_at_fence = 0
        self.last_lag: dict[tuple[str, str], int] = {}
        for outcome in ("succeeded", "aborted"):  # present from the start, so increase() sees the first one
            context.metrics.switch_outcome(outcome)

    # -- operator entry points -----------------------------------------------------------------------

    def now(self) -> int:
        return int(asyncio.get_running_loop().time() * 1000)

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False) -> str:
        if self.following is not None:
            raise SwitchRefused(f"this instance follows switch {self.following} led by another instance")
        switch_id = f"sw-{time.strftime('%Y%m%dT%H%M%S')}-{next(self._ids)}"
        self._feed(ev.SwitchRequested(now=self.now(), switch_id=switch_id, source=self.machine.active,
                                      target=target, mode=mode, dry_run=dry_run, timeout_s=timeout_s,
                                      accept_replay=accept_replay))
        return switch_id

    def fence(self) -> dict[str, Any]:
        self._feed(ev.OperatorFenced(now=self.now()))
        return {"fenced": self.produce_fence.fenced}

    def unfence(self) -> dict[str, Any]:
        self._feed(ev.OperatorUnfenced(now=self.now()))
        return {"fenced": self.produce_fence.fenced}

    def record(self, switch_id: str) -> dict[str, Any] | None:
        record = self.machine.record(switch_id) or self.records.get(switch_id)
        return self.stored_records.get(switch_id) if record is None else record.to_dict()

    def status(self) -> dict[str, Any]:
        return {"phase": str(self.machine.phase), "switch_epoch": self.machine.epoch,
                "replication_lag_records": {f"{s}->{t}": lag for (s, t), lag in self.last_lag.items()},
                "fenced": self.produce_fence.fenced, "fetch_hold": self.interceptor.holding,
                "held_clients": self.interceptor.held_clients}

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
            elif (stored.cluster.active, stored.cluster.epoch) != mine and not self.machine.running:
                log.error("stored switch state (active %s, epoch %d) disagrees with this process (active %s, "
                          "epoch %d)", stored.cluster.active, stored.cluster.epoch, *mine)

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
        if stored is None or (stored.cluster.active, stored.cluster.epoch) != mine:
            seen = None if stored is None else (stored.cluster.active, stored.cluster.epoch)
            log.critical("the stored switch state %s is not the one this instance routes by %s: a switch "
                         "happened while it was cut off; staying fenced (restart it to resume)", seen, mine)
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
        await self.fleet.ack_drained(switch_id, {"outstanding": 0, "unknown_fate": 0})

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
        state = self.machine.state
        return state.operator_fenced or (state.run is not None and state.running and state.run.fenced)

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

    def _save_record(self, switch_id: str) -> None:
        record = self.machine.record(switch_id) or self.records.get(switch_id)
        if record is not None:
            data = record.to_dict()
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

    async def observe_progress(self, every_s: float = PROGRESS_EVERY_S) -> None:
        """While no switch runs, keep the latest mirror progress: an emergency switch reports its tail
        from it, since the source may be gone by then. Also tells the machine when the source is lost."""
        source_was_reachable = True
        while True:
            await asyncio.sleep(every_s)
            source = self.machine.active
            reachable = self.context.view(source).reachable
            if source_was_reachable and not reachable:
                self._feed(ev.SourceUnreachable(now=self.now()))
            source_was_reachable = reachable
            if self.machine.running or not reachable:
                continue
            for mirror in self.context.config.mirrors:
                if mirror.source != source:
                    continue
                try:
                    progress = await self.mirror_progress(mirror.source, mirror.target, background=True)
                except (AdminError, OSError, TimeoutError) as exc:
                    log.debug("mirror progress %s->%s unavailable: %s", mirror.source, mirror.target, exc)
                    continue
                self._feed(ev.ProgressObserved(now=self.now(), partitions=progress))
                self._record_lag(mirror.source, mirror.target, progress)

    def _record_lag(self, source: str, target: str, progress: tuple[PartitionProgress, ...]) -> None:
        lag = 0
        for p in progress:
            if p.source_last_data_offset is not None:
                lag += p.source_last_data_offset - (p.mirrored_upto if p.mirrored_upto is not None else -1)
        self.context.metrics.replication_lag(source, target).set(lag)
        self.last_lag[(source, target)] = lag

    async def abort_transaction(self, cluster: str, transactional_id: str) -> dict[str, Any]:
        """Operator action: abort a dead producer's open transaction on `cluster` (fences that producer)."""
        fenced = await self._admin(cluster).abort_transaction(transactional_id)
        return {"cluster": cluster, "transactional_id": transactional_id, **fenced}

    async def close(self) -> None:
        self._cancel_pending()
        await self.flush()
        await asyncio.gather(*(a.close() for a in self._admins.values()), return_exceptions=True)
        await self.store.close()

    # -- the loop between machine and world ----------------------------------------------------------

    def _feed(self, event: ev.Event) -> None:
        try:
            actions = self.machine.handle(event)
        except SwitchProtocolError:
            log.exception("switch machine refused %s", type(event).__name__)
            return
        self._rejected = None
        failed: list[str] = []
        for action in actions:  # the machine has moved on: every action must be carried out
            try:
                self._apply(action)
            except Exception as exc:
                log.exception("switch action %s failed", type(action).__name__)
                failed.append(f"{type(action).__name__}: {exc!r}")
        self._persist_fences()
        if failed:
            asyncio.get_running_loop().call_soon(self._feed, ev.CheckFailed(
                now=self.now(), phase=self.machine.phase, reason=f"executor action failed: {'; '.join(failed)}"))
        if self._rejected is not None:
            reason, self._rejected = self._rejected, None
            raise SwitchRefused(reason)

    def _reply_later(self, coro: Awaitable[ev.Event], phase: Phase, name: str) -> None:
        async def run() -> None:
            try:
                event = await coro
            except (AdminError, OSError, TimeoutError) as exc:
                event = ev.CheckFailed(now=self.now(), phase=phase, reason=str(exc))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug of ours must abort the switch, not stall it until a timer
                log.exception("switch %s check crashed", name)
                event = ev.CheckFailed(now=self.now(), phase=phase, reason=f"internal error in {name}: {exc!r}")
            self._feed(event)

        task = asyncio.get_running_loop().create_task(run(), name=f"switch-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _apply(self, action: act.Action) -> None:
        handler: Callable[[Any], None] | None = getattr(self, f"_do_{type(action).__name__}", None)
        if handler is None:
            raise SwitchProtocolError(f"executor has no handler for {type(action).__name__}")
        handler(action)

    # -- effects -------------------------------------------------------------------------------------

    def _do_FenceTransactions(self, action: act.FenceTransactions) -> None:
        self.transactions.fence()

    def _do_UnfenceTransactions(self, action: act.UnfenceTransactions) -> None:
        if self.state_lost:  # fail closed wins over the machine until the state is read again
            log.warning("transactions stay fenced: the switch state is out of reach")
            return
        self.transactions.unfence()

    def _do_FenceProduce(self, action: act.FenceProduce) -> None:
        run = self.machine.state.run
        if self.machine.running and run is not None:  # a switch, not an operator fence: the fleet follows
            self._announce(run.switch_id, "fence", run.source, run.target, self.machine.epoch)
        self._unknown_fate_at_fence = self.context.writes_of_unknown_fate
        self.produce_fence.fence()
        self.context.metrics.fenced.set(1)
        asyncio.get_running_loop().call_soon(self._feed, ev.ProduceFenced(now=self.now()))

    def _do_UnfenceProduce(self, action: act.UnfenceProduce) -> None:
        if self.state_lost:
            log.warning("produce stays fenced: the switch state is out of reach")
            return
        self.produce_fence.unfence()
        self.interceptor.refused_clients.clear()
        self.context.metrics.fenced.set(0)

    def _do_HoldConsumerFetch(self, action: act.HoldConsumerFetch) -> None:
        self.interceptor.hold_fetches()

    def _do_ReleaseConsumerFetch(self, action: act.ReleaseConsumerFetch) -> None:
        self.interceptor.release_fetches()

    def _do_ScheduleTimeout(self, action: act.ScheduleTimeout) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (action.at - self.now()) / 1000)
        self._timer = loop.call_later(delay, lambda: self._feed(ev.TimeoutElapsed(now=self.now(),
                                                                                  phase=action.phase)))

    def _do_RecordPhase(self, action: act.RecordPhase) -> None:
        log.info("switch %s: phase %s", action.switch_id, action.phase)
        self._save_record(action.switch_id)

    def _do_EmitAudit(self, action: act.EmitAudit) -> None:
        self.audit.record("switch", action.action, {"switch_id": action.switch_id}, action.outcome, action.evidence)

    def _do_RejectRequest(self, action: act.RejectRequest) -> None:
        self._rejected = action.reason

    def _do_Finish(self, action: act.Finish) -> None:
        self._cancel_pending()
        self.records[action.switch_id] = action.record
        self._save_record(action.switch_id)
        record = action.record
        if not record.dry_run:
            self._announce(action.switch_id, str(action.outcome), record.source, record.target, record.epoch_before)
        self.context.metrics.switch_outcome(str(action.outcome)).inc()
        for timing in action.record.to_dict().get("phases", []):
            if timing["duration_ms"] is not None:
                self.context.metrics.switch_phase(timing["phase"]).observe(timing["duration_ms"] / 1000)
        log.info("switch %s finished: %s (%s)", action.switch_id, action.outcome, action.reason)

    def _cancel_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()

    # -- requests ------------------------------------------------------------------------------------

    def _do_WaitForDrain(self, action: act.WaitForDrain) -> None:
        self._reply_later(self._drain(action.deadline), Phase.DRAIN, "drain")

    async def _drain(self, deadline: int) -> ev.Event:
        drained = 0
        while True:
            outstanding = self._outstanding_writes()
            if outstanding == 0:
                missing = await self._fleet_not_drained()
                if not missing:
                    unknown = self.context.writes_of_unknown_fate - self._unknown_fate_at_fence
                    return ev.InFlightDrained(now=self.now(), drained_count=drained, unknown_fate=unknown)
                if self.now() >= deadline - FLEET_REPORT_EARLY_MS:  # before the phase timer, to name them
                    return ev.CheckFailed(now=self.now(), phase=Phase.DRAIN,
                                          reason=f"drain: instance(s) {', '.join(missing)} did not report drained")
            if self.now() >= deadline:
                return ev.DrainTimedOut(now=self.now(), outstanding=outstanding)
            drained = max(drained, outstanding)
            await asyncio.sleep(DRAIN_POLL_S)

    def _outstanding_writes(self) -> int:
        return sum(client.outstanding(WRITE_APIS) for client in self.context.clients)

    def _do_CheckTransactions(self, action: act.CheckTransactions) -> None:
        async def check() -> ev.Event:
            await self._not_before(action.not_before)
            found = await self._admin(action.cluster).open_transactions()
            return ev.TransactionsChecked(now=self.now(), open_transactions=tuple(t.transactional_id for t in found),
                                          open_for_ms=tuple(t.open_ms for t in found))

        self._reply_later(check(), Phase.CATCH_UP, "transactions")

    def _do_CheckMirror(self, action: act.CheckMirror) -> None:
        async def check() -> ev.Event:
            await self._not_before(action.not_before)
            progress = await self.mirror_progress(action.source, action.target)
            return ev.MirrorChecked(now=self.now(), partitions=progress)

        self._reply_later(check(), Phase.CATCH_UP, "mirror")

    async def mirror_progress(self, source: str, target: str, *, background: bool = False
                              ) -> tuple[PartitionProgress, ...]:
        """Per partition, how far MM2 copied `source` into `target`.

        The background observer has connections and a reader of its own, so an error on one side
        never closes a connection under the other, and their incremental reads never interleave.
        """
        src, dst = self._admin(source, background), self._admin(target, background)
        parts = await src.replicated_partitions()
        source_end = await src.end_offsets(parts)
        stable = await src.end_offsets(parts, READ_COMMITTED)
        reader = self._mirrors.setdefault((source, target, background), MirrorProgressReader(source, target))
        await reader.refresh(dst)
        target_parts = {tp: info for tp, info in (await dst.partitions()).items() if tp in parts}
        target_end = await dst.end_offsets(target_parts) if target_parts else {}
        out = []
        for tp, info in sorted(parts.items()):
            end = min(source_end[tp], stable[tp])
            last = await src.last_committed_data_offset(tp, info.leader, end) if end > 0 else -1
            last_data = None if last < 0 else last
            out.append(PartitionProgress(
                topic=tp[0], partition=tp[1], source_end_offset=source_end[tp], source_last_data_offset=last_data,
                mirrored_upto=reader.mirrored.get(tp), target_end_offset=target_end.get(tp, 0),
                exact_sync=reader.exact_sync(tp, last_data), syncs=tuple(reader.syncs.get(tp, ())),
                on_target=tp in target_parts))
        if not background:  # the group check proves positions against what the mirror gate saw
            self._progress[(source, target)] = {p.tp: p for p in out}
        return tuple(out)

    def _do_CheckGroupOffsets(self, action: act.CheckGroupOffsets) -> None:
        async def check() -> ev.Event:
            await self._not_before(action.not_before)
            return ev.GroupOffsetsChecked(now=self.now(), groups=await self._group_offsets(action.source,
                                                                                            action.target))

        self._reply_later(check(), Phase.CATCH_UP, "groups")

    async def _group_offsets(self, source: str, target: str) -> tuple[GroupOffsets, ...]:
        src, dst = self._admin(source), self._admin(target)
        replicated = await src.replicated_partitions()
        target_parts = await dst.partitions()
        progress = self._progress.get((source, target), {})
        prover = self._provers.setdefault((source, target), PositionProver(
            self.context.config.switch.match_window_records))
        served = self.interceptor.memberships.groups()  # only these can rejoin through this proxy
        out = []
        for group, active in (await src.group_states()).items():
            committed = {tp: o for tp, o in (await src.committed(group)).items() if tp in replicated}
            if not committed:
                continue
            on_target = await dst.committed(group)
            members = 1 if active and group in served else 0
            partitions = []
            for tp, offset in sorted(committed.items()):
                seen = progress.get(tp)
                proven = None if seen is None else await prover.resume_offset(
                    src, dst, seen, offset, replicated[tp].leader, target_parts)
                partitions.append(GroupPartitionOffsets(topic=tp[0], partition=tp[1], committed_on_source=offset,
                                                        on_target=on_target.get(tp), proven=proven))
            out.append(GroupOffsets(group=group, members=members, partitions=tuple(partitions)))
        return tuple(out)

    def _do_WriteGroupOffsets(self, action: act.WriteGroupOffsets) -> None:
        async def write() -> ev.Event:
            dst = self._admin(action.target)
            by_group: dict[str, dict[tuple[str, int], int]] = {}
            for w in action.offsets:
                by_group.setdefault(w.group, {})[(w.topic, w.partition)] = w.offset
            for group, offsets in by_group.items():
                await dst.commit(group, offsets)
            return ev.GroupOffsetsWritten(now=self.now(), written=action.offsets)

        self._reply_later(write(), Phase.CATCH_UP, "write-groups")

    def _do_FlipActive(self, action: act.FlipActive) -> None:
        """Persist first, then flip, with no await between the flip and ActiveFlipped.

        A crash after the persist resumes on the target, which is safe: every gate had passed and
        the source was fenced and drained, so nothing acknowledged is missing there. A crash before it
        resumes on the source, which is an abort. A persist that fails aborts the switch (CheckFailed):
        routing never moves to a cluster a restart would not come back to. Nothing else can move the
        machine out of FLIPPING meanwhile (it has no timeout there and refuses operator requests).
        """
        new = ClusterState(action.target, action.epoch)

        async def persist_then_flip() -> ev.Event:
            try:
                await self.store.compare_and_swap(action.epoch - 1, new)
            except StateStoreError as exc:
                self.context.metrics.state_write_errors.inc()
                return ev.CheckFailed(now=self.now(), phase=Phase.SWITCH,
                                      reason=f"could not persist epoch {action.epoch} on {action.target}: {exc}")
            self.persisted = new
            self._show_persisted(new)
            self.context.set_active(action.target, action.epoch)
            self.interceptor.clear_producer_ids = True
            return ev.ActiveFlipped(now=self.now(), epoch=action.epoch)

        self._reply_later(persist_then_flip(), Phase.SWITCH, "flip")

    def _do_DisconnectClients(self, action: act.DisconnectClients) -> None:
        if action.scope == DisconnectScope.ALL:
            count = self.context.disconnect_all("switch: reconnect to the new active cluster")
        else:
            refused = list(self.interceptor.refused_clients)
            for client in refused:
                client.close("switch aborted: reconnect to reset producer state")
            count = len(refused)
        asyncio.get_running_loop().call_soon(self._feed, ev.ClientsDisconnected(now=self.now(), count=count))

    # -- helpers -------------------------------------------------------------------------------------

    def _rejoined(self, client_id: str, group: str) -> None:
        if not self.machine.running:  # a follower's hold: nothing in this machine waits for it
            return
        self._feed(ev.ClientRejoined(now=self.now(), client_id=client_id, group=group))

    async def _not_before(self, at: int) -> None:
        delay = (at - self.now()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    def _admin(self, cluster: str, background: bool = False) -> ClusterAdmin:
        admin = self._admins.get((cluster, background))
        if admin is None:
            servers = [(hp.host, hp.port) for hp in self.context.config.clusters[cluster].bootstrap_servers]
            admin = self._admins[(cluster, background)] = ClusterAdmin(cluster, servers)
        return admin
