"""Process lifecycle: setup, start, serve until a signal, shut down within a timeout.

One place owns every listener, the upstream monitors, the admin server and the switch, so
shutdown is one ordered walk: stop accepting, close clients, stop background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import uvloop

from proxy.admin.api import build_admin_app, start_admin
from proxy.admin.audit import AuditLog
from proxy.admin.control import Control
from proxy.config import ProxyConfig, read_admin_tokens
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.relay import ClientConnection
from proxy.log import proxy as log
from proxy.metrics import Metrics
from proxy.security.tls import ServerTls
from proxy.state.etcd_fleet import EtcdFleet
from proxy.state.etcd_store import EtcdStateStore
from proxy.state.open_store import open_store


class ProxyServer:
    """Everything one proxy process runs."""

    def __init__(self, config: ProxyConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.context = ProxyContext(config, self.metrics)
        self.audit = AuditLog(config.admin.audit_log)
        self.control = Control(self.context, self.audit, open_store(config))
        self._servers: list[asyncio.Server] = []
        self._admin_runner: Any = None
        self.fleet: EtcdFleet | None = None
        self.bootstrap_port = config.listeners.bootstrap_port
        self.admin_port = config.admin.port
        # built now, so a bad certificate stops the start before anything listens
        self.listener_tls = ServerTls(config.listeners.tls) if config.listeners.tls else None
        self.admin_tls = ServerTls(config.admin.tls, "admin.tls") if config.admin.tls else None

    async def start(self) -> None:
        """Resume the switch state first: no listener opens before the proxy knows its active cluster."""
        loop = asyncio.get_running_loop()
        ctx = self.context
        await self.control.executor.resume_from_store()
        ctx.spawn(self.control.executor.follow_store(), "state-store")
        for name, monitor in ctx.monitors.items():
            ctx.spawn(monitor.run(), f"monitor-{name}")
        ctx.spawn(ctx.close_idle_clients(), "idle-clients")
        ctx.spawn(self.control.executor.observe_progress(), "mirror-progress")
        ctx.spawn(self.control.readiness_loop(), "readiness")
        await self._wait_first_views()
        listeners = self.config.listeners
        tls = self.listener_tls.listening if self.listener_tls else None
        for server_tls in (self.listener_tls, self.admin_tls):
            if server_tls is not None:
                ctx.spawn(server_tls.watch(), f"tls-watch-{server_tls.path}")
        bootstrap = await loop.create_server(lambda: ClientConnection(ctx, None), listeners.bind_host,
                                             listeners.bootstrap_port, reuse_address=True, ssl=tls)
        self.bootstrap_port = bootstrap.sockets[0].getsockname()[1]
        self.audit.instance = f"{listeners.advertised_host}:{self.bootstrap_port}"
        self._servers.append(bootstrap)
        for node in range(listeners.max_brokers):
            server = await loop.create_server(lambda n=node: ClientConnection(ctx, n), listeners.bind_host,
                                              self.config.broker_port(node), reuse_address=True, ssl=tls)
            self._servers.append(server)
        await self._start_admin()
        await self._join_fleet()
        log.info("proxy listening: bootstrap %s:%d, brokers %s:%d-%d, active cluster %s",
                 listeners.advertised_host, self.bootstrap_port, listeners.advertised_host,
                 self.config.broker_port(0), self.config.broker_port(listeners.max_brokers - 1), ctx.active)

    async def _join_fleet(self) -> None:
        """With a shared store: register this instance under a lease and fail closed when it lapses."""
        executor = self.control.executor
        if not isinstance(executor.store, EtcdStateStore):
            return
        listeners = self.config.listeners
        ctx = self.context

        def describe() -> dict[str, Any]:
            return {"bootstrap": self.audit.instance, "admin": f"{self.config.admin.bind_host}:{self.admin_port}",
                    "active": ctx.active, "switch_epoch": ctx.switch_epoch,
                    "fenced": executor.produce_fence.fenced, "max_brokers": listeners.max_brokers,
                    "leading": executor.leading(),
                    "reachable": sorted(name for name, m in ctx.monitors.items() if m.view.reachable)}

        fleet = EtcdFleet(executor.store, self.audit.instance or "?", self.config.state.lease_ttl_s, describe)
        await fleet.join()
        executor.fleet_view = lambda: fleet.view
        executor.fleet = fleet
        ctx.spawn(fleet.keep_alive(executor.on_lease), "fleet-lease")
        ctx.spawn(executor.follow_intents(), "fleet-follow")
        self.fleet = fleet

    async def _wait_first_views(self, timeout_s: float = 10.0) -> None:
        """Give the monitors a moment so the first clients see real API versions."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if all(m.view.updated_at for m in self.context.monitors.values()):
                return
            await asyncio.sleep(0.05)

    async def _start_admin(self) -> None:
        admin = self.config.admin
        app = build_admin_app(self.control, self.metrics, read_admin_tokens(self.config), self.audit)
        self._admin_runner, port = await start_admin(
            app, admin.bind_host, admin.port, ssl_context=self.admin_tls.listening if self.admin_tls else None)
        self.admin_port = port

    def reload_tls(self) -> None:
        """SIGHUP: new handshakes use the certificate files as they are now; open connections stay."""
        for server_tls in (self.listener_tls, self.admin_tls):
            if server_tls is not None:
                server_tls.reload()

    async def stop(self, timeout_s: float = 5.0) -> None:
        for server in self._servers:
            server.close()
        self.context.disconnect_all("proxy shutting down")
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout_s)
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
        if self.fleet is not None:
            await self.fleet.leave()
        await self.control.close()
        await self.context.cancel_tasks()


async def serve(config: ProxyConfig) -> None:
    server = ProxyServer(config)
    try:
        await server.start()
    except BaseException:
        with contextlib.suppress(Exception):  # the start's own error is the one to report
            await server.stop(timeout_s=1.0)  # what started (tasks, the store's session) ends with us
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
    await stop.wait()
    log.info("shutting down")
    await server.stop()


def run(config: ProxyConfig) -> int:
    uvloop.run(serve(config))
    return 0
