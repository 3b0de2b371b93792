"""One client connection and its upstream connection: frames in, frames out, in order.

The client side splits requests into frames and peeks only their headers. Most frames go to the
upstream broker untouched; ApiVersions and fenced requests are answered locally; the few that name
a broker are decoded and rewritten. Fetch requests lose their CurrentLeaderEpoch on the way (the
proxy shows clients epoch -1, and librdkafka turns that into a 0 the broker would fence forever).
Responses come back through `ResponseOrder`, which releases answers strictly in request order, and
through the rewrite table for address-bearing APIs.

Backpressure is mirrored: when one side's transport buffer passes its high-water mark the other
side stops reading until it drains, so no buffer grows without bound. Bytes a client sends before
its upstream connection is up are held, unanswered, even ApiVersions (uvloop ignores pause_reading
inside connection_made), and reading pauses once they pass the high-water mark.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import TYPE_CHECKING, cast

from protocol import schema
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.framing import FrameSplitter
from protocol.headers import peek_request_header, read_uvarint, response_header_length
from protocol.messages import MESSAGES
from protocol.patch import PATCHERS, patched_versions
from protocol.patch.fetch_request import clear_leader_epochs
from proxy.dataplane.correlation import ResponseOrder
from proxy.dataplane.rewrite import REQUEST_REWRITERS, RESPONSE_REWRITERS, response_needs_rewrite
from proxy.log import connection as log

if TYPE_CHECKING:
    from proxy.dataplane.context import ProxyContext, Route

_SIZE = struct.Struct(">i")
_INT32 = struct.Struct(">i")


class ClientConnection(asyncio.Protocol):
    """The proxy's side of one client connection (bootstrap or a virtual node's port)."""

    __slots__ = (
        "_closed", "_early", "_early_bytes", "_order", "_splitter", "_upstream", "context", "last_active", "peer",
        "route", "transport", "virtual_node",
    )

    def __init__(self, context: ProxyContext, virtual_node: int | None) -> None:
        self.context = context
        self.virtual_node = virtual_node
        self.transport: asyncio.Transport | None = None
        self.route: Route | None = None
        self.peer = "?"
        self._upstream: UpstreamConnection | None = None
        self._splitter = FrameSplitter(context.config.limits.max_frame_bytes)
        self._order = ResponseOrder()
        self._early: list[memoryview] = []  # requests held until the upstream connection is up
        self._early_bytes = 0
        self._closed = False
        self.last_active = time.monotonic()

    # -- asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        limits = self.context.config.limits
        self.transport.set_write_buffer_limits(limits.write_high_water_bytes, limits.write_low_water_bytes)
        if not self.context.register(self):
            log.warning("refusing client %s: max_client_connections reached", self.peer)
            self.close("too many connections")
            return
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
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self), route.host, route.port), timeout
            )
        except (OSError, TimeoutError) as exc:
            self.context.metrics.upstream_error(route.cluster, "connect")
            self.context.monitors[route.cluster].poke()
            log.warning("client %s: upstream %s %s:%d unreachable: %s", self.peer, route.cluster, route.host,
                        route.port, exc)
            return False
        return True

    def upstream_ready(self, upstream: UpstreamConnection) -> None:
        if self._closed:
            upstream.close()
            return
        self._upstream = upstream
        held, self._early = self._early, []
        self._early_bytes = 0
        try:
            for frame in held:
                self._on_request(frame)
        except ProtocolError as exc:
            self.context.metrics.frame_error(type(exc).__name__)
            log.warning("client %s: closing on a bad request frame: %s", self.peer, exc)
            self.close(str(exc))
            return
        if held and self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.context.metrics.bytes_client_in.inc(len(data))
        try:
            self._splitter.feed(data)
            while (frame := self._splitter.next_frame()) is not None:
                if self._upstream is None:
                    self._hold(frame)
                else:
                    self._on_request(frame)
        except ProtocolError as exc:
            self.context.metrics.frame_error(type(exc).__name__)
            log.warning("client %s: closing on a bad request frame: %s", self.peer, exc)
            self.close(str(exc))
        except Exception:
            log.exception("client %s: crash while handling a request; closing this connection", self.peer)
            self.close("internal error")

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.context.unregister(self)
        if self._upstream is not None:
            self._upstream.close()

    def pause_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def resume_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.resume_reading()

    # -- requests ------------------------------------------------------------------------------------

    def _on_request(self, frame: memoryview) -> None:
        header = peek_request_header(frame)
        key, version = header.api_key, header.api_version
        if self.context.frame_tap is not None:
            self.context.frame_tap(True, key, version, bytes(frame[header.header_length:]))
        self.context.metrics.request(key).inc()
        now = time.perf_counter_ns()
        local = self.context.answer_locally(self, header, frame)
        if local is not None:
            if local:  # an empty answer swallows the request (a fenced acks=0 Produce)
                self._order.answer_locally(header.correlation_id, key, version, now, local)
                self._flush()
            return
        if key == 1:
            self._order.expect_upstream(header.correlation_id, key, version, now)
            self._send_upstream(fetch_without_epochs(frame, header.header_length, version))
            return
        out: bytes | memoryview = frame
        if key in REQUEST_REWRITERS and key in MESSAGES and self.route is not None:
            out = self._rewrite_request(frame, header.header_length, key, version)
        elif key == 22:
            out = self.context.rewrite_request(header, frame) or frame
        if not (key == 0 and _produce_acks(frame, header.header_length, version) == 0):
            self._order.expect_upstream(header.correlation_id, key, version, now)
        self._send_upstream([_SIZE.pack(len(out)), out])

    def _rewrite_request(self, frame: memoryview, header_length: int, key: int, version: int) -> bytes:
        assert self.route is not None
        spec = MESSAGES[key].REQUEST
        body = schema.decode(spec, version, frame[header_length:])
        if not REQUEST_REWRITERS[key](body, version, self.route.mapper):
            return bytes(frame)
        self.context.metrics.rewrite(key).inc()
        return bytes(frame[:header_length]) + schema.encode(spec, version, body)

    def _hold(self, frame: memoryview) -> None:
        """A request that arrived before the upstream connection is up waits, even one answered locally.

        Answering ApiVersions at once would tell the client the broker is there; if the upstream
        connect is then refused, requests it sent meanwhile fail with a disconnect (the Java
        producer retries them after a backoff) where a direct client would have seen a refused
        connection and sent nothing. Views stay valid: the splitter never changes bytes under them.
        """
        self._early.append(frame)
        self._early_bytes += len(frame)
        if self._early_bytes > self.context.config.limits.write_high_water_bytes and self.transport is not None:
            self.transport.pause_reading()

    def _send_upstream(self, parts: list[bytes | memoryview]) -> None:
        """Frames go out as views of the receive buffer, which the splitter never changes under them."""
        if self._upstream is not None:
            self._upstream.write(parts)

    @property
    def upstream_outstanding(self) -> int:
        return self._order.upstream_outstanding

    def outstanding(self, api_keys: frozenset[int]) -> int:
        """Requests of these APIs forwarded upstream and not answered yet (what DRAIN waits for)."""
        return self._order.outstanding(api_keys)

    # -- responses -----------------------------------------------------------------------------------

    def on_response(self, frame: memoryview) -> None:
        correlation_id = _INT32.unpack_from(frame)[0]
        entry = self._order.match_upstream(correlation_id)
        metrics = self.context.metrics
        metrics.response(entry.api_key).inc()
        metrics.latency(entry.api_key).observe((time.perf_counter_ns() - entry.started_ns) / 1e9)
        if self.context.frame_tap is not None:
            offset = response_header_length(entry.api_key, entry.api_version, frame)
            self.context.frame_tap(False, entry.api_key, entry.api_version, bytes(frame[offset:]))
        if response_needs_rewrite(entry.api_key, entry.api_version) and self.route is not None:
            entry.answer = self._rewrite_response(frame, entry.api_key, entry.api_version)
        else:
            entry.answer = [_SIZE.pack(len(frame)), frame]
        self.context.on_upstream_answer(self, entry)
        self._flush()

    def _rewrite_response(self, frame: memoryview, key: int, version: int) -> list[bytes | memoryview]:
        """Hot APIs go through the zero-copy patchers; the rest through decode, rewrite, encode."""
        assert self.route is not None
        offset = response_header_length(key, version, frame)
        body = frame[offset:]
        pieces: list[bytes | memoryview]
        if version in patched_versions(key):
            patched = PATCHERS[key](body, version, self.route.mapper)
            pieces = [patched] if isinstance(patched, bytes) else patched
            if len(pieces) == 1 and pieces[0] is body:
                return [_SIZE.pack(len(frame)), frame]
        else:
            spec = MESSAGES[key].RESPONSE
            decoded = schema.decode(spec, version, body)
            RESPONSE_REWRITERS[key](decoded, version, self.route.mapper)
            pieces = [schema.encode(spec, version, decoded)]
        self.context.metrics.rewrite(key).inc()
        return [_SIZE.pack(offset + sum(len(p) for p in pieces)), frame[:offset], *pieces]

    def _flush(self) -> None:
        if self.transport is None or self._closed:
            return
        tap = self.context.client_tap
        out: list[bytes | memoryview] = []
        for entry in self._order.release():
            assert entry.answer is not None
            out.extend(entry.answer)
        if not out:
            return
        if tap is not None:
            for part in out:
                tap(part)
        self.context.metrics.bytes_client_out.inc(sum(map(len, out)))
        self.transport.writelines(out)

    def close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        log.debug("closing client %s: %s", self.peer, reason)
        if self.transport is not None:
            self.transport.close()
        if self._upstream is not None:
            self._upstream.close()


class UpstreamConnection(asyncio.Protocol):
    """The proxy's connection to one real broker, on behalf of one client connection."""

    __slots__ = ("_client", "_splitter", "transport")

    def __init__(self, client: ClientConnection) -> None:
        self._client = client
        self._splitter = FrameSplitter(client.context.config.limits.max_frame_bytes)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        limits = self._client.context.config.limits
        self.transport.set_write_buffer_limits(limits.write_high_water_bytes, limits.write_low_water_bytes)
        route = self._client.route
        self._client.context.metrics.upstream_connected(route.cluster if route else "?", +1)
        self._client.upstream_ready(self)

    def data_received(self, data: bytes) -> None:
        client = self._client
        client.context.metrics.bytes_upstream_in.inc(len(data))
        try:
            self._splitter.feed(data)
            while (frame := self._splitter.next_frame()) is not None:
                client.on_response(frame)
        except ProtocolError as exc:
            route = client.route
            client.context.metrics.upstream_error(route.cluster if route else "?", "bad_frame")
            log.warning("upstream of %s sent a bad frame: %s", client.peer, exc)
            client.close(f"bad upstream frame: {exc}")
        except Exception:
            log.exception("client %s: crash while handling a response; closing this connection", client.peer)
            client.close("internal error")

    def write(self, parts: list[bytes | memoryview]) -> None:
        if self.transport is None:
            return
        self._client.context.metrics.bytes_upstream_out.inc(sum(map(len, parts)))
        self.transport.writelines(parts)

    def connection_lost(self, exc: Exception | None) -> None:
        route = self._client.route
        self._client.context.metrics.upstream_connected(route.cluster if route else "?", -1)
        self._client.close("upstream closed")

    def pause_writing(self) -> None:
        if self._client.transport is not None:
            self._client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._client.transport is not None:
            self._client.transport.resume_reading()

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def fetch_without_epochs(frame: memoryview, header_length: int, version: int) -> list[bytes | memoryview]:
    """A Fetch frame with no CurrentLeaderEpoch the broker could fence (see protocol.patch.fetch_request)."""
    body = frame[header_length:]
    pieces = clear_leader_epochs(body, version)
    if len(pieces) == 1 and pieces[0] is body:
        return [_SIZE.pack(len(frame)), frame]
    return [_SIZE.pack(len(frame)), frame[:header_length], *pieces]


def _produce_acks(frame: memoryview, header_length: int, version: int) -> int:
    """Acks of a Produce request (after the nullable TransactionalId, v3+); RemoteProtocolError if unreadable."""
    try:
        pos = header_length
        if version >= 9:
            n, pos = read_uvarint(frame, pos)
            pos += max(n - 1, 0)
        elif version >= 3:
            n = struct.unpack_from(">h", frame, pos)[0]
            pos += 2 + max(n, 0)
        acks: int = struct.unpack_from(">h", frame, pos)[0]
        return acks
    except (struct.error, IndexError) as exc:
        raise RemoteProtocolError(f"unreadable Produce request: {exc}") from exc
