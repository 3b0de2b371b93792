"""The proxy's shared state: which cluster is active, where each virtual node routes, who is connected.

Connections ask the context three things: where to connect (`route`), whether a request is
answered by the proxy itself (`answer_locally`), and to be counted (`register`). The switch changes
the active cluster here and nowhere else, then closes every client connection so clients
renegotiate versions, refresh metadata and rejoin their groups against the new cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from protocol.headers import RequestHeader
from proxy.config import ConfigError, ProxyConfig
from proxy.dataplane.api_versions import ApiVersionsAnswer
from proxy.dataplane.budget import BufferBudget, Verdict
from proxy.dataplane.passthrough_logins import SASL_AUTHENTICATE, WATCHED_APIS, PassthroughLogins
from proxy.dataplane.seen_principals import SeenPrincipals
from proxy.dataplane.virtual_cluster import NodeMapper, VirtualCluster
from proxy.log import proxy as log
from proxy.metrics import Metrics
from proxy.readiness.inventory import ClientInventory
from proxy.sasl.authenticators import listener_authenticators
from proxy.security.upstream import upstream_security
from proxy.upstream.monitor import ClusterView, UpstreamMonitor

if TYPE_CHECKING:
    from proxy.dataplane.connection import Hold
    from proxy.dataplane.correlation import Pending
    from proxy.dataplane.relay import ClientConnection

_INT32 = struct.Struct(">i")


@dataclass(frozen=True, slots=True)
class Route:
    """Where one client connection's upstream goes, and how its responses are mapped."""

    cluster: str
    host: str
    port: int
    mapper: NodeMapper


READ_BUFFER_BYTES = 256 * 1024
"""One recv() fills at most this much (uvloop's own read buffer is as large)."""

WRITE_APIS = frozenset({0, 22, 24, 25, 26, 28})
"""Produce and the transaction APIs: what a switch fences and what its DRAIN waits for."""


class RequestInterceptor(Protocol):
    """Something that may answer a request instead of the upstream (the switch's fences)."""

    def intercept(self, client: ClientConnection, header: RequestHeader, frame: memoryview
                  ) -> list[bytes] | Hold | None: ...

    def observe_answer(self, client: ClientConnection, entry: Pending) -> None: ...

    def rewrite_request(self, header: RequestHeader, frame: memoryview) -> bytes | None: ...

    def forget(self, client: ClientConnection) -> None: ...


class ProxyContext:
    """State shared by every connection of one proxy process."""

    def __init__(self, config: ProxyConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        listeners = config.listeners
        self.virtual = VirtualCluster(config.virtual_cluster.cluster_id, listeners.advertised_host,
                                      listeners.broker_port_base, listeners.max_brokers)
        self.security = upstream_security(config)  # every connection to a cluster takes its entry
        # a terminating listener's users and token keys (None: no termination); a bad file stops the start
        self.client_authenticators = listener_authenticators(config.listeners.sasl, ConfigError)
        self.monitors = {
            name: UpstreamMonitor(name, [(hp.host, hp.port) for hp in cluster.bootstrap_servers],
                                  security=self.security[name])
            for name, cluster in config.clusters.items()
        }
        self.api_versions = ApiVersionsAnswer(config.virtual_cluster.cluster_id)
        self.inventory = ClientInventory()  # readiness evidence: libraries, versions, APIs used
        self.seen_principals = SeenPrincipals(on_change=metrics.seen_principals)  # the governance gate's
        self.passthrough_logins = PassthroughLogins(self.seen_principals)
        self.active = config.active
        self.switch_epoch = 0
        self.clients: set[ClientConnection] = set()
        # every socket of this proxy (one event loop) reads into this one buffer; the connection
        # core copies what it keeps past the read callback, and views a transport keeps unsent
        # make it swap in a new buffer (read_buffer_lent)
        self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self.budget = BufferBudget(config.limits.max_buffered_bytes)
        self._recount_pending = False
        self.writes_of_unknown_fate = 0
        self.interceptors: list[RequestInterceptor] = []
        self.client_tap: Callable[[bytes | memoryview], None] | None = None
        # sees every frame body as it arrives: (is_request, api key, version, body) (tests)
        self.frame_tap: Callable[[bool, int, int, bytes], None] | None = None  # sees every byte sent to clients (tests)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._round_robin = itertools.count()
        # real node id -> last address seen, per cluster: a dead broker's slot still routes there
        self._last_known: dict[str, dict[int, tuple[str, int]]] = {name: {} for name in config.clusters}
        for name, monitor in self.monitors.items():
            monitor.subscribe(self._on_view)
            # a client sent a virtual topic id this cluster's map lacks: a topic created since the last poll
            self.virtual.topics_of(name).to_real.on_miss = lambda _raw, m=monitor: m.poke()
        metrics.set_active(self.active)

    # -- lifecycle helpers -----------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Every background task starts here: named, referenced until done, failures logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- connections -----------------------------------------------------------------------------------

    def register(self, client: ClientConnection) -> bool:
        if len(self.clients) >= self.config.limits.max_client_connections:
            return False
        self.clients.add(client)
        self.metrics.client_connections.set(len(self.clients))
        return True

    def unregister(self, client: ClientConnection) -> None:
        # writes forwarded upstream whose answer will never reach the client: A may or may not
        # have applied them, and the client will send them again (a relayed connection reports
        # them through request_of_unknown_fate as it closes, and has none left here)
        self.writes_of_unknown_fate += client.outstanding(WRITE_APIS)
        self.clients.discard(client)
        self.metrics.client_connections.set(len(self.clients))
        self.on_budget(self.budget.forget(client))
        self.inventory.forget(client)
        self.passthrough_logins.forget(client)
        for interceptor in self.interceptors:  # nothing per connection outlives it
            interceptor.forget(client)

    def read_buffer_lent(self, parts: list[bytes | memoryview]) -> bool:
        """A transport kept `parts` partly unsent: if any is a view of the read buffer, read into a
        new one (True). The old buffer lives as long as the transport's views of it."""
        shared = self.read_buffer.obj
        for part in parts:
            if isinstance(part, memoryview) and part.obj is shared:
                self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
                return True
        return False

    # -- the proxy-wide buffer cap (proxy.dataplane.budget) ------------------------------------------------

    def on_budget(self, verdict: Verdict | None) -> None:
        if verdict is Verdict.PAUSE_ALL:
            log.warning("%d bytes buffered across %d connections, over limits.max_buffered_bytes: "
                        "reading paused", self.budget.total, len(self.budget))
            for client in self.clients:
                client.pause_for_budget()
            self._schedule_recount()
        elif verdict is Verdict.RESUME_ALL:
            log.info("buffered bytes back to %d: reading resumed", self.budget.total)
            for client in self.clients:
                client.resume_for_budget()

    def _schedule_recount(self, every_s: float = 0.05) -> None:
        """While over the cap, re-count every connection: write buffers drain without a callback."""
        if not self._recount_pending:
            self._recount_pending = True
            asyncio.get_running_loop().call_later(every_s, self._recount)

    def _recount(self) -> None:
        self._recount_pending = False
        if not self.budget.over:
            return
        self.on_budget(self.budget.recount({client: client.buffered_bytes() for client in self.clients}))
        if self.budget.over:
            self._schedule_recount()

    def request_of_unknown_fate(self, api_key: int) -> None:
        """A connection closed before the broker answered this request: a write may or may not be applied."""
        if api_key in WRITE_APIS:
            self.writes_of_unknown_fate += 1

    def disconnect_all(self, reason: str) -> int:
        clients = list(self.clients)
        for client in clients:
            client.close(reason)
        return len(clients)

    async def close_idle_clients(self, every_s: float = 5.0) -> None:
        """Close client connections that sent nothing for `limits.idle_timeout_s` (Kafka's connections.max.idle.ms)."""
        limit = self.config.limits.idle_timeout_s
        while True:
            await asyncio.sleep(every_s)
            cutoff = time.monotonic() - limit
            for client in [c for c in self.clients if c.last_active < cutoff and not c.upstream_outstanding]:
                client.close(f"idle for more than {limit:g} s")

    def in_flight(self) -> int:
        """Requests forwarded upstream and not yet answered, over every connection."""
        return sum(client.upstream_outstanding for client in self.clients)

    # -- routing ---------------------------------------------------------------------------------------

    def view(self, cluster: str | None = None) -> ClusterView:
        return self.monitors[cluster or self.active].view

    def is_ready(self) -> bool:
        return self.view().reachable and bool(self.api_versions.advertised.api_ranges)

    def route(self, virtual_node: int | None) -> Route | None:
        cluster = self.active
        view = self.view(cluster)
        mapper = self.virtual.mapper(cluster)
        slots = self.virtual.slots_of(cluster)
        slots.learn(list(view.brokers))
        if virtual_node is None:
            return self._bootstrap_route(cluster, view, mapper)
        filled = slots.slots()
        if not filled:
            return None
        real = filled.get(virtual_node)
        if real is not None:
            return self._broker_route(cluster, real, mapper)
        present = sorted(s for s, r in filled.items() if r in view.brokers)
        if not present:
            return None
        real = filled[present[virtual_node % len(present)]]
        host, port = view.brokers[real]
        return Route(cluster, host, port, mapper)

    def _broker_route(self, cluster: str, real: int, mapper: NodeMapper) -> Route | None:
        """A slot's own broker, also while it is down: at its last known address.

        Sending the slot elsewhere would make another broker answer under this one's node id, and
        a client would then keep two connections, with requests in flight on both, to one broker
        (an idempotent producer's sequences interleave; issue 15). Refused like a dead broker is
        what a client copes with, and once the broker is back the same address reaches it at once.
        """
        address = self.view(cluster).brokers.get(real) or self._last_known[cluster].get(real)
        if address is None:
            return None
        if real not in self.view(cluster).brokers:
            self.monitors[cluster].poke()  # dead, or back and not seen yet
        return Route(cluster, address[0], address[1], mapper)

    def _bootstrap_route(self, cluster: str, view: ClusterView, mapper: NodeMapper) -> Route:
        candidates = sorted(view.brokers.values()) or [
            (hp.host, hp.port) for hp in self.config.clusters[cluster].bootstrap_servers
        ]
        host, port = candidates[next(self._round_robin) % len(candidates)]
        return Route(cluster, host, port, mapper)

    # -- local answers ---------------------------------------------------------------------------------

    def answer_locally(self, client: ClientConnection, header: RequestHeader, frame: memoryview
                       ) -> list[bytes] | Hold | None:
        self.inventory.on_request(client, header.api_key, header.api_version, frame, header.header_length)
        if header.api_key in WATCHED_APIS:  # a relayed (passthrough) SASL exchange: who logs in
            self.passthrough_logins.on_request(client, header, frame)
        if header.api_key == 18:
            _version, body = self.api_versions.respond(header.api_version, frame[header.header_length:],
                                                      client.virtual_node)
            payload = _INT32.pack(header.correlation_id) + body
            return [_INT32.pack(len(payload)) + payload]
        for interceptor in self.interceptors:
            answer = interceptor.intercept(client, header, frame)
            if answer is not None:
                return answer
        return None

    def rewrite_request(self, header: RequestHeader, frame: memoryview) -> bytes | None:
        for interceptor in self.interceptors:
            rewritten = interceptor.rewrite_request(header, frame)
            if rewritten is not None:
                return rewritten
        return None

    def on_upstream_answer(self, client: ClientConnection, entry: Pending) -> None:
        if entry.api_key == SASL_AUTHENTICATE:
            self.passthrough_logins.on_response(client, entry)
        for interceptor in self.interceptors:
            interceptor.observe_answer(client, entry)

    # -- upstream views --------------------------------------------------------------------------------

    def _on_view(self, view: ClusterView) -> None:
        if view.reachable:
            self.virtual.slots_of(view.name).learn(list(view.brokers))
            self.virtual.topics_of(view.name).learn_all(view.topic_ids)
            self._last_known[view.name].update(view.brokers)
        # Until every cluster has answered once, advertise what the known ones allow; a later
        # recompute narrows it, and only connections opened afterwards see the change.
        reachable = [m.view for m in self.monitors.values() if m.view.api_ranges]
        if reachable and self.api_versions.recompute(
            [v.api_ranges for v in reachable],
            [v.supported_features for v in reachable],
            [v.finalized_features for v in reachable],
        ):
            log.info("advertised API versions recomputed from %s (features epoch %d)",
                     ", ".join(v.name for v in reachable), self.api_versions.advertised.features_epoch)

    def set_active(self, cluster: str, epoch: int) -> None:
        self.active = cluster
        self.monitors[cluster].poke()  # its topic ids, fresh: a topic MM2 created since the last poll
        self.switch_epoch = epoch
        self.inventory.epoch = epoch
        self.metrics.set_active(cluster)
        self.metrics.switch_epoch.set(self.switch_epoch)

    def status(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "switch_epoch": self.switch_epoch,
            "virtual_cluster_id": self.virtual.cluster_id,
            "client_connections": len(self.clients),
            "in_flight": self.in_flight(),
            "seen_principals": self.seen_principals.status(),
            "clusters": {
                name: {
                    "reachable": m.view.reachable,
                    "cluster_id": m.view.cluster_id,
                    "brokers": {str(k): f"{h}:{p}" for k, (h, p) in sorted(m.view.brokers.items())},
                    "virtual_slots": {str(s): r for s, r in sorted(self.virtual.slots_of(name).slots().items())},
                    "error": m.view.error,
                }
                for name, m in self.monitors.items()
            },
        }
