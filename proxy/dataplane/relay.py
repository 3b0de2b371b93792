"""The asyncio side of one client connection and its upstream connection: bytes in, commands out.

Every decision about a frame is made by the sans-IO core, `connection.Connection`; the protocols
here turn socket callbacks into its events and carry out the commands it returns, with no await.

Sockets are read with `asyncio.BufferedProtocol` into the context's one read buffer, so a read
costs no bytes object of its own. A frame that lies wholly in one read is written on as a view of
that buffer, with no copy (a Produce request, a Fetch response up to the read size); the core copies
only what it keeps past the callback (a partial frame, a held request). uvloop sends at once when it
can; when a transport keeps part of a view unsent, the context swaps in a fresh read buffer before
the next read (`ProxyContext.read_buffer_lent`), so the bytes still queued are never overwritten, and
the old buffer counts in the budget while that transport still holds it (`send`).
Byte and request counts go to the metrics' plain-number tally, not a Prometheus call per read.

Backpressure only ever stops reading, never drops. A socket's reading is paused for any of four
reasons and resumes when none is left (`ReadingPauses`): the other side's transport buffer passed its
high-water mark (mirrored both ways); the client's own transport is full, so its locally answered
requests stop too; the core holds requests until the upstream is up (uvloop ignores pause_reading
inside connection_made, so the core counts what it holds); the proxy-wide `BufferBudget` is over its
cap. Every connection reports what it buffers after each event it handles.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, cast

from proxy.dataplane.connection import (
    ClientClosed,
    ClientDataReceived,
    CloseConnection,
    Command,
    Connection,
    ConnectUpstream,
    Event,
    FateUnknown,
    Part,
    PauseClientReading,
    ReportLoginFailure,
    ReportUpstreamReauthenticated,
    ResumeClientReading,
    SendClient,
    SendUpstream,
    UpstreamClosed,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.context import READ_BUFFER_BYTES
from proxy.dataplane.sasl_gate import SaslGate
from proxy.dataplane.upstream_login import UpstreamLogin
from proxy.log import connection as log
from proxy.sasl.login import ClientLogin
from proxy.sasl.settings import SecretUnavailable

if TYPE_CHECKING:
    from proxy.dataplane.context import ProxyContext, Route


OTHER_SIDE_FULL, OWN_ANSWERS_FULL, HOLDING, OVER_BUDGET = 1, 2, 4, 8
CLIENT_PIN, UPSTREAM_PIN = 1, 2


def send(context: ProxyContext, transport: asyncio.Transport, parts: list[Part]) -> bool:
    """Write `parts`; True when the transport keeps a view of the read buffer unsent (a pin).

    Behind bytes already queued, views of the read buffer are copied first: they would wait in
    the queue, each pinning a whole read buffer. Into an empty queue views go as they are, since
    uvloop sends at once; if the socket takes only part, the rest stays a view, the context swaps
    in a fresh read buffer, and the connection counts the old one in the budget until that
    transport's queue is empty again. So a transport pins at most one read buffer at a time.
    """
    if transport.get_write_buffer_size():
        shared = context.read_buffer.obj
        transport.writelines([bytes(p) if isinstance(p, memoryview) and p.obj is shared else p for p in parts])
        return False
    transport.writelines(parts)
    return bool(transport.get_write_buffer_size()) and context.read_buffer_lent(parts)


class ReadingPauses:
    """Why a transport is not being read; it reads again only when every reason is gone."""

    __slots__ = ("reasons", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reasons = 0

    def pause(self, reason: int) -> None:
        transport = self._open()
        if not self.reasons and transport is not None:
            transport.pause_reading()
        self.reasons |= reason

    def resume(self, reason: int) -> None:
        if self.reasons & reason:
            self.reasons &= ~reason
            transport = self._open()
            if not self.reasons and transport is not None:
                transport.resume_reading()

    def _open(self) -> asyncio.Transport | None:
        """uvloop raises on pause/resume of a closed transport; a closing one has nothing to read."""
        transport = self.transport
        return None if transport is None or transport.is_closing() else transport


class ClientConnection(asyncio.BufferedProtocol):
    """The proxy's side of one client connection (bootstrap or a virtual node's port)."""

    __slots__ = ("_closed", "_core", "_pins", "_reading", "_reported", "_upstream", "context", "last_active",
                 "peer", "route", "transport", "virtual_node")

    def __init__(self, context: ProxyContext, virtual_node: int | None) -> None:
        self.context = context
        self.virtual_node = virtual_node
        self.transport: asyncio.Transport | None = None
        self.route: Route | None = None
        self.peer = "?"
        self._upstream: UpstreamConnection | None = None
        limits = context.config.limits
        self._core = Connection(context, self, limits.max_frame_bytes, limits.write_high_water_bytes,
                                gate=_gate(context))
        self._reading = ReadingPauses()
        self._closed = False
        self._reported = 0  # what the budget was last told this connection buffers
        self._pins = 0  # CLIENT_PIN | UPSTREAM_PIN: that transport keeps a view of an old read buffer
        self.last_active = time.monotonic()

    # -- asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = self._reading.transport = cast(asyncio.Transport, transport)  # uvloop: not subclasses
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        limits = self.context.config.limits
        self.transport.set_write_buffer_limits(limits.write_high_water_bytes, limits.write_low_water_bytes)
        if not self.context.register(self):
            log.warning("refusing client %s: max_client_connections reached", self.peer)
            self.close("too many connections")
            return
        if self.context.client_authenticators is None:  # a terminating listener connects once logged in
            self._start_upstream()
        if self.context.budget.over:
            asyncio.get_running_loop().call_soon(self.pause_for_budget)

    def _start_upstream(self) -> None:
        self.route = self.context.route(self.virtual_node)
        if self.route is None:
            self.close("no upstream broker known yet")
            return
        self.context.spawn(self._connect_upstream(self.route), f"upstream-connect-{self.peer}")

    async def _connect_upstream(self, route: Route) -> None:
        """A bootstrap connection tries each broker in turn, as a client tries its bootstrap list."""
        attempts = len(self.context.view(route.cluster).brokers) if self.virtual_node is None else 1
        for _ in range(max(attempts, 1)):
            if await self._try_connect(route):
                return
            next_route = self.context.route(self.virtual_node)
            if self._closed or next_route is None:
                break
            self.route = route = next_route
        self.close(f"upstream {route.cluster} unreachable")

    async def _try_connect(self, route: Route) -> bool:
        loop = asyncio.get_running_loop()
        timeout = self.context.config.limits.connect_timeout_s
        tls = self.context.security[route.cluster].ssl
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self), route.host, route.port, ssl=tls,
                                       server_hostname=route.host if tls else None), timeout
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError (untrusted, expired, wrong name) is an OSError
            self.context.metrics.upstream_error(route.cluster, "connect")
            self.context.monitors[route.cluster].poke()
            log.warning("client %s: upstream %s %s:%d unreachable: %s", self.peer, route.cluster, route.host,
                        route.port, exc)
            return False
        return True

    def upstream_ready(self, upstream: UpstreamConnection) -> None:
        if self._closed or self.route is None:
            upstream.close()
            return
        self._upstream = upstream
        try:
            login = self._service_login(self.route.cluster)
        except SecretUnavailable as exc:
            log.error("client %s: no service login for cluster %s: %s", self.peer, self.route.cluster, exc)
            self.close("service credentials unavailable")
            return
        self.handle(UpstreamConnected(self.route.mapper, login))

    def _service_login(self, cluster: str) -> UpstreamLogin | None:
        """A terminating listener's upstream logs in with the cluster's service credentials (if any)."""
        sasl = self.context.security[cluster].sasl
        if self.context.client_authenticators is None or sasl is None:
            return None
        view = self.context.view(cluster)
        version = min(2, view.api_ranges.get(36, (0, 2))[1])
        password = sasl.password()  # read once per connection: a re-authentication reuses it
        return UpstreamLogin(lambda: ClientLogin(sasl.mechanism, sasl.username, password), sasl.username, version)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.context.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.last_active = time.monotonic()
        context = self.context
        context.metrics.tally.client_in += nbytes
        self.handle(ClientDataReceived(context.read_buffer[:nbytes]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.handle(ClientClosed())
        self._closed = True
        self.context.unregister(self)
        if self._upstream is not None:
            self._upstream.close()

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests and its broker's answers."""
        self._reading.pause(OWN_ANSWERS_FULL)
        if self._upstream is not None:
            self._upstream.reading.pause(OTHER_SIDE_FULL)

    def resume_writing(self) -> None:
        self._reading.resume(OWN_ANSWERS_FULL)
        if self._upstream is not None:
            self._upstream.reading.resume(OTHER_SIDE_FULL)
        self.account()

    # -- backpressure ----------------------------------------------------------------------------------

    def buffered_bytes(self) -> int:
        """Bytes this connection holds: the core's, what its transports have not sent yet, and a
        whole read buffer for each transport still keeping a view of one (see `send`)."""
        held = self._core.buffered_bytes
        to_client = self.transport.get_write_buffer_size() if self.transport is not None else 0
        upstream = self._upstream.transport if self._upstream is not None else None
        to_upstream = upstream.get_write_buffer_size() if upstream is not None else 0
        if self._pins:
            self.pinned(CLIENT_PIN, bool(to_client))
            self.pinned(UPSTREAM_PIN, bool(to_upstream))
            held += READ_BUFFER_BYTES * ((self._pins & CLIENT_PIN) + (self._pins >> 1))
        return held + to_client + to_upstream

    def pinned(self, side: int, keeps: bool) -> None:
        self._pins = self._pins | side if keeps else self._pins & ~side

    def account(self) -> None:
        """Tell the budget what this connection buffers, when that changed (mostly it stays 0)."""
        if not self._closed:
            held = self.buffered_bytes()
            if held != self._reported:
                self._reported = held
                self.context.on_budget(self.context.budget.report(self, held))

    def pause_for_upstream(self) -> None:
        self._reading.pause(OTHER_SIDE_FULL)

    def resume_for_upstream(self) -> None:
        self._reading.resume(OTHER_SIDE_FULL)
        self.account()

    def pause_for_budget(self) -> None:
        self._reading.pause(OVER_BUDGET)
        if self._upstream is not None:
            self._upstream.reading.pause(OVER_BUDGET)

    def resume_for_budget(self) -> None:
        self._reading.resume(OVER_BUDGET)
        if self._upstream is not None:
            self._upstream.reading.resume(OVER_BUDGET)

    # -- carrying out the core's commands ------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Give the core an event and carry out its commands; anything but a command is a crash."""
        try:
            commands = self._core.handle(event)
        except Exception:
            log.exception("client %s: crash while handling %s; closing this connection", self.peer,
                          type(event).__name__)
            self.close("internal error")
            return
        for command in commands:
            self._execute(command)
        self.account()

    def _execute(self, command: Command) -> None:
        if isinstance(command, SendUpstream):
            if self._upstream is not None:
                self._upstream.write(command.parts)
        elif isinstance(command, SendClient):
            self._write(command.parts)
        elif isinstance(command, FateUnknown):
            self.context.request_of_unknown_fate(command.api_key)
        elif isinstance(command, CloseConnection):
            self._report_close(command)
            self.close(command.reason)
        elif isinstance(command, PauseClientReading):
            self._reading.pause(HOLDING)
        elif isinstance(command, ResumeClientReading):
            self._reading.resume(HOLDING)
        elif isinstance(command, ConnectUpstream):
            log.info("client %s logged in as %r", self.peer, command.principal)
            self.context.metrics.sasl_login(True)
            self.context.seen_principals.add(f"User:{command.principal}")
            self._start_upstream()
        elif isinstance(command, ReportUpstreamReauthenticated):
            self.context.metrics.upstream_reauthenticated(self.route.cluster if self.route else "?")
        elif isinstance(command, ReportLoginFailure):
            self._report_login_failure(command)

    def _report_login_failure(self, command: ReportLoginFailure) -> None:
        if command.upstream:
            cluster = self.route.cluster if self.route else "?"
            self.context.metrics.upstream_error(cluster, "sasl")
            log.warning("client %s: upstream %s refused the %s; closing the client", self.peer, cluster,
                        command.message)
        else:
            self.context.metrics.sasl_login(False)
            log.warning("client %s: SASL login failed: %s", self.peer, command.message)

    def _report_close(self, command: CloseConnection) -> None:
        if command.bad_frame_from == "client":
            self.context.metrics.frame_error(command.error)
            log.warning("client %s: closing on a bad request frame: %s", self.peer, command.reason)
        elif command.bad_frame_from == "upstream":
            self.context.metrics.upstream_error(self.route.cluster if self.route else "?", "bad_frame")
            log.warning("upstream of %s sent a bad frame: %s", self.peer, command.reason)

    def _write(self, parts: list[Part]) -> None:
        transport = self.transport
        if transport is None or self._closed:
            return
        context = self.context
        tap = context.client_tap
        if tap is not None:
            for part in parts:
                tap(bytes(part))  # a copy: parts may be views of the read buffer
        context.metrics.tally.client_out += sum(map(len, parts))
        if send(context, transport, parts):
            self.pinned(CLIENT_PIN, True)

    @property
    def upstream_outstanding(self) -> int:
        return self._core.upstream_outstanding

    def outstanding(self, api_keys: frozenset[int]) -> int:
        """Requests of these APIs forwarded upstream and not answered yet (what DRAIN waits for)."""
        return self._core.outstanding(api_keys)

    def close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        log.debug("closing client %s: %s", self.peer, reason)
        if self.transport is not None:
            self.transport.close()
        if self._upstream is not None:
            self._upstream.close()


class UpstreamConnection(asyncio.BufferedProtocol):
    """The proxy's connection to one real broker, on behalf of one client connection."""

    __slots__ = ("_client", "reading", "transport")

    def __init__(self, client: ClientConnection) -> None:
        self._client = client
        self.transport: asyncio.Transport | None = None
        self.reading = ReadingPauses()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = self.reading.transport = cast(asyncio.Transport, transport)  # uvloop: not subclasses
        limits = self._client.context.config.limits
        self.transport.set_write_buffer_limits(limits.write_high_water_bytes, limits.write_low_water_bytes)
        route = self._client.route
        self._client.context.metrics.upstream_connected(route.cluster if route else "?", +1)
        self._client.upstream_ready(self)
        if self._client.context.budget.over:
            asyncio.get_running_loop().call_soon(self.reading.pause, OVER_BUDGET)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._client.context.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        context = self._client.context
        context.metrics.tally.upstream_in += nbytes
        self._client.handle(UpstreamDataReceived(context.read_buffer[:nbytes]))

    def write(self, parts: list[Part]) -> None:
        transport = self.transport
        if transport is None:
            return
        context = self._client.context
        context.metrics.tally.upstream_out += sum(map(len, parts))
        if send(context, transport, parts):
            self._client.pinned(UPSTREAM_PIN, True)

    def connection_lost(self, exc: Exception | None) -> None:
        route = self._client.route
        self._client.context.metrics.upstream_connected(route.cluster if route else "?", -1)
        self._client.handle(UpstreamClosed())

    def pause_writing(self) -> None:
        self._client.pause_for_upstream()

    def resume_writing(self) -> None:
        self._client.resume_for_upstream()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _gate(context: ProxyContext) -> SaslGate | None:
    sasl = context.config.listeners.sasl
    if context.client_authenticators is None or sasl is None:
        return None
    return SaslGate(sasl.mechanisms, context.client_authenticators)
