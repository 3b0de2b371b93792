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
from proxy.readiness.mirror import MirrorSeen
from proxy.state.memory_store import MemoryStateStore
from proxy.state.resume import Resumed
from proxy.state.snapshot import ClusterState
from proxy.state.store import FleetCoordinator, StateStoreError, SwitchStateStore
from proxy.switch.check_steps import CheckSteps
from proxy.switch.durable_state import DurableState
from proxy.switch.fleet_following import DRAIN_POLL_S
from proxy.switch.governance_check import EMERGENCY_BUDGET_S, PLANNED_BUDGET_S, read_and_compare
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine import actions as act
from proxy.switch.machine import events as ev
from proxy.switch.machine.fencing import HOLD_LIMIT_MS, HOLD_RECYCLE_EVERY_MS, ProduceFence, TransactionFence
from proxy.switch.machine.governance import governance_gate
from proxy.switch.machine.machine import SwitchMachine
from proxy.switch.machine.phases import DisconnectScope, Limits, Phase
from proxy.switch.machine.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress
from proxy.switch.machine.record import SwitchRecord
from proxy.switch.machine.state import SwitchProtocolError
from proxy.upstream.cluster_admin import READ_COMMITTED, AdminError, ClusterAdmin, PartitionInfo
from proxy.upstream.mirror_progress import MirrorProgressReader
from proxy.upstream.position_prover import PositionProver

PROGRESS_EVERY_S = 5.0
LAST_DATA_READS_IN_FLIGHT = 8
"""Partitions whose last data record is read at once: one by one, 300 partitions under load took
longer than the whole catch-up deadline; pipelined on the per-broker connections they do not."""
FLEET_REPORT_EARLY_MS = 150


class SwitchRefused(Exception):
    """The machine refused an operator request (a switch is running, bad target, ...)."""


class SwitchExecutor(DurableState):
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
        self.mirror_seen: dict[tuple[str, str], MirrorSeen] = {}  # readiness evidence: is MM2 moving
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._hold_limit: asyncio.TimerHandle | None = None
        self._admins: dict[tuple[str, bool], ClusterAdmin] = {}
        self._mirrors: dict[tuple[str, str, bool], MirrorProgressReader] = {}
        self.steps = CheckSteps()
        self._progress: dict[tuple[str, str], dict[tuple[str, int], PartitionProgress]] = {}
        self._provers: dict[tuple[str, str], PositionProver] = {}
        self._rejected: str | None = None
        self._unknown_fate_at_fence = 0
        self.last_lag: dict[tuple[str, str], int] = {}
        self.governance: dict[str, dict[str, Any]] = {}
        self.last_governance: dict[tuple[str, str], dict[str, Any]] = {}
        """The latest governance comparison per (source, target), refused or not: readiness cites it."""
        for outcome in ("succeeded", "aborted"):  # present from the start, so increase() sees the first one
            context.metrics.switch_outcome(outcome)

    # -- operator entry points -----------------------------------------------------------------------

    def now(self) -> int:
        return int(asyncio.get_running_loop().time() * 1000)

    async def governance_preflight(self, target: str, mode: str, accept_gaps: bool) -> dict[str, Any]:
        """Read and compare A and B before a switch starts; raises SwitchRefused when a planned switch
        or dry run would leave clients without a control A grants and the operator did not accept it.

        An emergency switch gets a short budget and is never refused: the report is only evidence.
        """
        source = self.machine.active
        budget = EMERGENCY_BUDGET_S if mode == "emergency" else PLANNED_BUDGET_S
        seen = self.context.seen_principals  # who logged in through the proxy counts too (issue 12)
        report = await read_and_compare(self._admin(source, background=True), self._admin(target, background=True),
                                        budget, seen.names(), seen.scram_logins())
        evidence = {**report.to_dict(), "accepted_gaps": accept_gaps and bool(report.blocking)}
        self.last_governance[(source, target)] = {**evidence, "compared_at_s": time.time()}
        reason = governance_gate(report, accept_gaps)
        if reason is not None and mode != "emergency":
            raise SwitchRefused(reason)
        return evidence

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False, governance: dict[str, Any] | None = None) -> str:
        """`governance`: the preflight's report, kept as evidence in the switch record."""
        if self.following is not None:
            raise SwitchRefused(f"this instance follows switch {self.following} led by another instance")
        switch_id = f"sw-{time.strftime('%Y%m%dT%H%M%S')}-{next(self._ids)}"
        if governance is not None:
            self.governance[switch_id] = governance
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
        found = self.stored_records.get(switch_id) if record is None else record.to_dict()
        if found is not None and switch_id in self.governance:
            found = {**found, "evidence_governance": self.governance[switch_id]}
        return found

    def status(self) -> dict[str, Any]:
        return {"phase": str(self.machine.phase), "switch_epoch": self.machine.epoch,
                "replication_lag_records": {f"{s}->{t}": lag for (s, t), lag in self.last_lag.items()},
                "fenced": self.produce_fence.fenced, "fetch_hold": self.interceptor.holding,
                "held_clients": self.interceptor.held_clients}

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
        mirrored = sum(p.mirrored_upto + 1 for p in progress if p.mirrored_upto is not None)
        produced = sum(p.source_end_offset for p in progress if p.source_end_offset is not None)
        self.mirror_seen[(source, target)] = self.mirror_seen.get((source, target), MirrorSeen()).observe(
            time.time(), lag, mirrored, produced)

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
        switching = self.machine.running and run is not None and self.context.config.switch.hold_fenced_produce
        self.produce_fence.fence(hold=switching)  # a switch holds produce until its flip (see fencing)
        self.context.metrics.fenced.set(1)
        loop = asyncio.get_running_loop()
        if switching:
            self._cancel_hold_limit()
            self._hold_limit = loop.call_later(HOLD_RECYCLE_EVERY_MS / 1000, self._recycle_holds)
        loop.call_soon(self._feed, ev.ProduceFenced(now=self.now()))

    def _recycle_holds(self) -> None:
        """Close connections held for HOLD_LIMIT_MS, and look again later while the switch holds."""
        self._hold_limit = None
        if not self.produce_fence.holding:
            return
        count = self.interceptor.recycle_holds(time.monotonic(), HOLD_LIMIT_MS / 1000)
        if count:
            log.info("produce fence: closed %d connection(s) holding a Produce for %d ms", count, HOLD_LIMIT_MS)
        self._hold_limit = asyncio.get_running_loop().call_later(HOLD_RECYCLE_EVERY_MS / 1000, self._recycle_holds)

    def _cancel_hold_limit(self) -> None:
        if self._hold_limit is not None:
            self._hold_limit.cancel()
            self._hold_limit = None

    def _do_UnfenceProduce(self, action: act.UnfenceProduce) -> None:
        if self.state_lost:
            log.warning("produce stays fenced: the switch state is out of reach")
            return
        self._cancel_hold_limit()
        self.produce_fence.unfence()
        self.interceptor.refused_clients.clear()
        self.interceptor.held_producers.clear()
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
        self._timer = loop.call_later(delay, lambda: self._feed(ev.TimeoutElapsed(
            now=self.now(), phase=action.phase, busy=self.steps.describe())))

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
            self.steps.start("open-transactions")
            self.steps.step(f"ListTransactions/DescribeTransactions on {action.cluster}")
            found = await self._admin(action.cluster).open_transactions()
            self._log_check(self.steps.finish())
            return ev.TransactionsChecked(now=self.now(), open_transactions=tuple(t.transactional_id for t in found),
                                          open_for_ms=tuple(t.open_ms for t in found))

        self._reply_later(check(), Phase.CATCH_UP, "transactions")

    def _do_CheckMirror(self, action: act.CheckMirror) -> None:
        async def check() -> ev.Event:
            await self._not_before(action.not_before)
            self.steps.start("mirror")
            progress = await self.mirror_progress(action.source, action.target)
            self._log_check(self.steps.finish())
            return ev.MirrorChecked(now=self.now(), partitions=progress)

        self._reply_later(check(), Phase.CATCH_UP, "mirror")

    async def mirror_progress(self, source: str, target: str, *, background: bool = False
                              ) -> tuple[PartitionProgress, ...]:
        """Per partition, how far MM2 copied `source` into `target`.

        The background observer has connections and a reader of its own, so an error on one side
        never closes a connection under the other, and their incremental reads never interleave.
        The switch's reader starts from a copy of the background one: read from offset 0, MM2's
        topics of a long-lived pair took most of the first check's catch-up time. A background read
        still running (the first one after start is the long one) is waited for, not done twice at
        once on the same loaded machine.
        """
        step = self.steps.step if not background else _ignore
        note = self.steps.note if not background else _ignore
        src, dst = self._admin(source, background), self._admin(target, background)
        step(f"metadata of {source}")
        parts = await src.replicated_partitions()
        step(f"end offsets on {source}")
        source_end = await src.end_offsets(parts)
        step(f"last stable offsets on {source}")
        stable = await src.end_offsets(parts, READ_COMMITTED)
        reader = self._mirrors.get((source, target, background))
        if reader is None:
            seed = None if background else self._mirrors.get((source, target, True))
            if seed is not None:
                step(f"the background read of MM2 progress topics on {target}")
                await seed.idle()
            reader = self._mirrors.setdefault((source, target, background), seed.copy() if seed is not None
                                              else MirrorProgressReader(source, target))
        step(f"MM2 progress topics on {target}")
        await reader.refresh(dst, note)
        step(f"end offsets on {target}")
        target_parts = {tp: info for tp, info in (await dst.partitions()).items() if tp in parts}
        target_end = await dst.end_offsets(target_parts) if target_parts else {}
        step(f"last data offsets on {source}")
        ends = {tp: min(source_end[tp], stable[tp]) for tp in parts}
        lasts = await self._last_data_offsets(src, parts, ends, note)
        out = []
        for tp, _info in sorted(parts.items()):
            last = lasts[tp]
            last_data = None if last < 0 else last
            out.append(PartitionProgress(
                topic=tp[0], partition=tp[1], source_end_offset=source_end[tp], source_last_data_offset=last_data,
                mirrored_upto=reader.mirrored.get(tp), target_end_offset=target_end.get(tp, 0),
                exact_sync=reader.exact_sync(tp, last_data), syncs=tuple(reader.syncs.get(tp, ())),
                on_target=tp in target_parts))
        if not background:  # the group check proves positions against what the mirror gate saw
            self._progress[(source, target)] = {p.tp: p for p in out}
        return tuple(out)

    @staticmethod
    async def _last_data_offsets(src: ClusterAdmin, parts: dict[tuple[str, int], PartitionInfo],
                                 ends: dict[tuple[str, int], int], note: Callable[[str], None]
                                 ) -> dict[tuple[str, int], int]:
        """The last committed data offset of every partition, a few at a time (see LAST_DATA_READS_IN_FLIGHT)."""
        limit = asyncio.Semaphore(LAST_DATA_READS_IN_FLIGHT)
        out: dict[tuple[str, int], int] = {}

        async def one(tp: tuple[str, int], info: PartitionInfo) -> None:
            async with limit:
                note(f"reading {tp[0]}-{tp[1]}, {len(out)} of {len(parts)} partitions done")
                out[tp] = await src.last_committed_data_offset(tp, info.leader, ends[tp]) if ends[tp] > 0 else -1

        tasks = [asyncio.ensure_future(one(tp, info)) for tp, info in sorted(parts.items())]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # one failed or the check was cancelled: the others stop too
            for task in tasks:
                task.cancel()
            raise
        return out

    def _do_CheckGroupOffsets(self, action: act.CheckGroupOffsets) -> None:
        async def check() -> ev.Event:
            await self._not_before(action.not_before)
            self.steps.start("group offsets")
            groups = await self._group_offsets(action.source, action.target)
            self._log_check(self.steps.finish())
            return ev.GroupOffsetsChecked(now=self.now(), groups=groups)

        self._reply_later(check(), Phase.CATCH_UP, "groups")

    async def _group_offsets(self, source: str, target: str) -> tuple[GroupOffsets, ...]:
        src, dst = self._admin(source), self._admin(target)
        self.steps.step(f"metadata of {source} and {target}")
        replicated = await src.replicated_partitions()
        target_parts = await dst.partitions()
        progress = self._progress.get((source, target), {})
        prover = self._provers.setdefault((source, target), PositionProver(
            self.context.config.switch.match_window_records))
        served = self.interceptor.memberships.groups()  # only these can rejoin through this proxy
        out = []
        self.steps.step(f"groups on {source}")
        states = await src.group_states()
        self.steps.step("committed offsets and positions")
        for done, (group, active) in enumerate(states.items()):
            self.steps.note(f"group {group}, {done} of {len(states)} groups done")
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

    @staticmethod
    def _log_check(steps: str) -> None:
        """Every check's steps, slowest first: producers wait through each one (issue 10)."""
        log.info("switch check steps: %s", steps)

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
            admin = self._admins[(cluster, background)] = ClusterAdmin(cluster, servers,
                                                                       security=self.context.security[cluster])
        return admin


def _ignore(_text: str) -> None:
    """The background observer's steps are not the switch's: nothing records them."""
