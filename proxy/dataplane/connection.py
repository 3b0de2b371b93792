"""One client connection and its upstream connection, as a state machine with no I/O.

`Connection` is the proxy's data plane in the style of h11's `Connection`: the asyncio code (relay.py)
turns what happened on a socket into an event, hands it to `Connection.handle`, and carries out the
commands it gets back. Every decision about a frame is made here, so every path (pipelining, local
answers, acks=0, fences, rewrites, garbage, an upstream that dies) is unit-tested without a socket.

Events (past tense, what happened)      Commands (imperative, what to do)
  UpstreamConnected(mapper, login)        SendUpstream(parts)      frames for the broker, prefixed
  ClientDataReceived(data)                SendClient(parts)        answers, strictly in request order
  UpstreamDataReceived(data)              PauseClientReading / ResumeClientReading
  UpstreamClosed / ClientClosed           CloseConnection(reason, bad_frame_from, error)
                                          FateUnknown(correlation id, api key, version)
                                          ConnectUpstream(principal)   a terminating listener's client
                                                                       logged in: open its upstream now
                                          ReportLoginFailure(message, upstream)  no secret
                                          ReportUpstreamReauthenticated()

Lifecycle:

    CONNECTING --UpstreamConnected--> RELAYING --bad frame / either side closed--> CLOSED
        |                                                                            ^
        +------------------------- bad frame / either side closed -------------------+

CONNECTING: the client's frames are held, unanswered, even ApiVersions. Answering at once would tell
the client a broker is there; if the upstream connect is then refused, what it sent meanwhile fails
with a disconnect where a direct client would have seen a refused connection and sent nothing. Once
the held bytes pass `hold_limit` the client's reading pauses; it resumes when they are replayed.

RELAYING: a request is answered locally (ApiVersions, a fence's verdict from the interceptors, an
empty verdict swallowing a fenced acks=0 Produce), held (`HOLD`: a switch's fenced Produce, left
unanswered until the connection closes; it joins `ResponseOrder` with no answer, so every later
answer waits behind it, copied out of the read buffer) or forwarded. Forwarded frames are the client's
bytes, as views of the receive buffer, except for Fetch (CurrentLeaderEpoch cleared: the proxy shows
clients epoch -1, and librdkafka turns that into a 0 the broker would fence forever), requests that
name a broker (decoded, rewritten, encoded) and InitProducerId after a switch. acks=0 Produce gets
no response from the broker, so nothing waits for one. Every other request joins `ResponseOrder`,
and a local answer waits there behind every earlier request still at the broker. Responses are
matched by correlation id to the oldest request at the broker (a broker answers in order; anything
else is the upstream's protocol error) and rewritten where they carry broker addresses.

SASL termination (a `SaslGate`, `proxy.dataplane.sasl_gate`): before the client has logged in,
every frame goes to the gate, which answers it or closes; nothing is held or forwarded and no
upstream exists yet. Frames are capped at `PRE_LOGIN_MAX_FRAME` until then, as brokers cap them
(`sasl.server.max.receive.size`): an unauthenticated client cannot make the proxy buffer more.
Login emits ConnectUpstream; what the client pipelines after it is held as in CONNECTING. The
upstream connection then logs in with the cluster's service credentials (`UpstreamConnected.login`,
an `UpstreamLogin`): its responses go to the login, not to `ResponseOrder`, and only once it
succeeds is the mapper set and the held frames replayed. After login, SaslHandshake and
SaslAuthenticate (a client's KIP-368 re-authentication) still go to the gate, never to the broker,
whose session is the proxy's.

That session may end (KIP-368: a broker with `connections.max.reauth.ms` sends a lifetime and
closes the connection at the first request after it). Once 85% of the lifetime has passed, the
next client request starts a re-authentication on the open connection, as Java clients do: the
request and those after it are held, the login's frames go out behind the requests already at the
broker, the responses to those are relayed as usual, and the first response once none is left
is the login's (the broker answers in order). When the login completes the held requests go on.

CLOSED: nothing more is relayed. A request forwarded upstream whose answer never came may or may not
have been applied: each is reported once as `FateUnknown` and never as answered, so the switch's
drain counts an in-flight write as unknown rather than done. Bytes already turned into Send
commands before a bad frame still go out (closing a transport flushes it).

Within one `handle` call the frames for each side are coalesced into one Send command, so a chunk
of pipelined requests costs one write per side.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from protocol import schema
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.framing import FrameSplitter
from protocol.headers import RequestHeader, peek_request_header, read_uvarint, response_header_length
from protocol.messages import MESSAGES
from protocol.patch import PATCHERS, patched_versions
from protocol.patch.fetch_request import clear_leader_epochs
from protocol.patch.topic_ids import carries_ids, map_request, map_response
from proxy.dataplane.correlation import Pending, ResponseOrder
from proxy.dataplane.rewrite import REQUEST_REWRITERS, RESPONSE_REWRITERS, request_needs_rewrite, response_needs_rewrite
from proxy.dataplane.sasl_gate import API_VERSIONS, GateVerdict, SaslGate
from proxy.dataplane.upstream_login import UpstreamLogin
from proxy.sasl.scram import SaslError

if TYPE_CHECKING:
    from proxy.dataplane.virtual_cluster import NodeMapper
    from proxy.metrics import Metrics

Buffer = bytes | bytearray | memoryview
Part = bytes | memoryview  # a piece of an outgoing frame
_SIZE = struct.Struct(">i")
_INT16 = struct.Struct(">h")
FETCH, PRODUCE = 1, 0
REWRITTEN_BY_INTERCEPTORS = frozenset({22, 26})  # InitProducerId, EndTxn: producer ids after a switch
PRE_LOGIN_MAX_FRAME = 512 * 1024  # Kafka's sasl.server.max.receive.size default


# -- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamConnected:
    mapper: NodeMapper  # how this cluster's broker ids and addresses map to virtual ones
    login: UpstreamLogin | None = None  # a terminating listener's service login, run before relaying


@dataclass(frozen=True, slots=True)
class ClientDataReceived:
    # valid only during handle(): the I/O side reuses its read buffer. Frames lying wholly in it go
    # out as views of it (SendUpstream/SendClient parts), anything kept longer is copied first.
    data: Buffer


@dataclass(frozen=True, slots=True)
class UpstreamDataReceived:
    data: Buffer  # as ClientDataReceived


@dataclass(frozen=True, slots=True)
class UpstreamClosed:
    pass


@dataclass(frozen=True, slots=True)
class ClientClosed:
    pass


Event = UpstreamConnected | ClientDataReceived | UpstreamDataReceived | UpstreamClosed | ClientClosed


@dataclass(frozen=True, slots=True)
class Hold:
    """An interceptor's verdict: keep the request unanswered and unforwarded until the connection closes."""


HOLD = Hold()


# -- commands ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendUpstream:
    parts: list[Part]  # whole frames, size prefixes included; write them in this order


@dataclass(frozen=True, slots=True)
class SendClient:
    parts: list[Part]


@dataclass(frozen=True, slots=True)
class PauseClientReading:
    pass


@dataclass(frozen=True, slots=True)
class ResumeClientReading:
    pass


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close both sides. `bad_frame_from` names whose garbage caused it; `error` is its exception type."""

    reason: str
    bad_frame_from: Literal["client", "upstream"] | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class FateUnknown:
    """A request the broker got and never answered: it may or may not have been applied."""

    correlation_id: int
    api_key: int
    api_version: int


@dataclass(frozen=True, slots=True)
class ConnectUpstream:
    """A terminating listener's client logged in as `principal`: open its upstream connection now."""

    principal: str


@dataclass(frozen=True, slots=True)
class ReportLoginFailure:
    """A login failed: the client's (wrong password, unknown mechanism) or the upstream's service
    login (the broker refused it). User and mechanism at most, no secret."""

    message: str
    upstream: bool = False


@dataclass(frozen=True, slots=True)
class ReportUpstreamReauthenticated:
    """The upstream's service session was renewed on the open connection (KIP-368)."""


Command = (SendUpstream | SendClient | PauseClientReading | ResumeClientReading | CloseConnection | FateUnknown
           | ConnectUpstream | ReportLoginFailure | ReportUpstreamReauthenticated)


class Decisions(Protocol):
    """What the core asks of the proxy around it (ProxyContext): local answers and observers."""

    metrics: Metrics
    frame_tap: Callable[[bool, int, int, bytes], None] | None

    def answer_locally(self, client: Any, header: RequestHeader, frame: memoryview
                       ) -> list[bytes] | Hold | None: ...

    def rewrite_request(self, header: RequestHeader, frame: memoryview) -> bytes | None: ...

    def on_upstream_answer(self, client: Any, entry: Pending) -> None: ...


# -- the connection ----------------------------------------------------------------------------------------


class Connection:
    """The sans-IO core of one client connection: `handle(event)` returns the commands to carry out.

    `client` is the object interceptors see as this connection (its peer address and identity);
    the core never touches it beyond passing it on.
    """

    __slots__ = (
        "_client_frames", "_closed", "_decisions", "_gate", "_held", "_held_bytes", "_hold_limit", "_holding_paused",
        "_local_bytes", "_login", "_login_mapper", "_mapper", "_max_frame_bytes", "_now_ns", "_order", "_out",
        "_reauth_at_ns",
        "_session", "_to_client", "_to_upstream", "_upstream_frames", "client",
    )

    def __init__(self, decisions: Decisions, client: Any, max_frame_bytes: int, hold_limit: int,
                 now_ns: Callable[[], int] = time.perf_counter_ns, gate: SaslGate | None = None) -> None:
        self._decisions = decisions
        self._gate = gate  # a terminating listener's login state; None relays SASL like any request
        self._login: UpstreamLogin | None = None  # the service login under way on the upstream
        self._login_mapper: NodeMapper | None = None  # the mapper to take once that login succeeds
        self._session: UpstreamLogin | None = None  # the completed service login, renewed before it ends
        self._reauth_at_ns: int | None = None  # when the next client request renews it (None: never)
        self.client = client
        self._max_frame_bytes = max_frame_bytes
        self._client_frames = FrameSplitter(min(max_frame_bytes, PRE_LOGIN_MAX_FRAME) if gate else max_frame_bytes)
        self._upstream_frames = FrameSplitter(max_frame_bytes)
        self._order = ResponseOrder()
        self._mapper: NodeMapper | None = None
        self._held: list[memoryview] = []
        self._held_bytes = 0
        self._hold_limit = hold_limit
        self._holding_paused = False
        self._local_bytes = 0  # local answers waiting behind requests still at the broker
        self._closed = False
        self._now_ns = now_ns
        self._to_upstream: list[Part] = []
        self._to_client: list[Part] = []
        self._out: list[Command] = []

    # -- what the proxy around it reads --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def upstream_outstanding(self) -> int:
        """Requests forwarded to the broker and not answered yet."""
        return self._order.upstream_outstanding

    def outstanding(self, api_keys: frozenset[int]) -> int:
        """Requests of these APIs forwarded upstream and not answered yet (what DRAIN waits for)."""
        return self._order.outstanding(api_keys)

    @property
    def buffered_bytes(self) -> int:
        """Bytes this core keeps: partial frames, held requests, answers waiting their turn."""
        return (self._client_frames.buffered_bytes + self._upstream_frames.buffered_bytes + self._held_bytes
                + self._local_bytes)

    @property
    def queued(self) -> int:
        """Requests waiting for their answer to leave, local ones included (tests count bookkeeping)."""
        return len(self._order)

    # -- events in, commands out -----------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        try:
            if self._closed:
                pass
            elif isinstance(event, ClientDataReceived):
                self._client_data(event.data)
            elif isinstance(event, UpstreamDataReceived):
                self._upstream_data(event.data)
            elif isinstance(event, UpstreamConnected):
                self._upstream_connected(event.mapper, event.login)
            elif isinstance(event, UpstreamClosed):
                self._close("upstream closed")
            else:
                self._close("client closed")
        except Exception:  # our bug: the caller closes the connection; nothing half-built may leak out later
            self._to_upstream, self._to_client, self._out = [], [], []
            raise
        return self._commands()

    def _commands(self) -> list[Command]:
        out: list[Command] = []
        if self._to_upstream:
            out.append(SendUpstream(self._to_upstream))
            self._to_upstream = []
        if self._to_client:
            out.append(SendClient(self._to_client))
            self._to_client = []
        if self._out:
            out += self._out
            self._out = []
        return out

    def _close(self, reason: str, bad_frame_from: Literal["client", "upstream"] | None = None,
               error: ProtocolError | None = None) -> None:
        self._closed = True
        self._held, self._held_bytes, self._local_bytes = [], 0, 0
        for entry in self._order.abandon():
            self._out.append(FateUnknown(entry.correlation_id, entry.api_key, entry.api_version))
        self._out.append(CloseConnection(reason, bad_frame_from, type(error).__name__ if error else ""))

    # -- client side -----------------------------------------------------------------------------------------

    def _client_data(self, data: Buffer) -> None:
        splitter = self._client_frames
        splitter.lend(data)  # frames wholly in `data` are views of the relay's read buffer: used now or copied
        try:
            while not self._closed and (frame := splitter.next_frame()) is not None:
                if self._gate is not None and self._gate_takes(self._gate, frame):
                    self._on_sasl(self._gate, frame)
                elif self._mapper is None or self._login is not None:
                    self._hold(frame)
                elif self._reauth_at_ns is not None and self._now_ns() >= self._reauth_at_ns:
                    self._reauthenticate()
                    self._hold(frame)
                else:
                    self._on_request(frame, self._mapper)
        except ProtocolError as exc:
            self._close(str(exc), "client", exc)

    # -- SASL termination --------------------------------------------------------------------------------

    @staticmethod
    def _gate_takes(gate: SaslGate, frame: memoryview) -> bool:
        if gate.raw_tokens or not gate.logged_in:
            return True
        return len(frame) >= 2 and gate.wants(_INT16.unpack_from(frame)[0])

    def _on_sasl(self, gate: SaslGate, frame: memoryview) -> None:
        if gate.raw_tokens:  # only before login: nothing is at the broker, so the token answers at once
            self._apply(gate.on_raw_token(frame), None)
            return
        header = peek_request_header(frame)
        self._decisions.metrics.tally.request(header.api_key)
        if header.api_key == API_VERSIONS:
            local = self._decisions.answer_locally(self.client, header, frame)
            self._apply(GateVerdict(b"".join(local) if isinstance(local, list) else b""), header)  # never held
        else:
            self._apply(gate.on_request(header, frame), header)

    def _apply(self, verdict: GateVerdict, header: RequestHeader | None) -> None:
        if verdict.answer and header is not None:
            self._order.answer_locally(header.correlation_id, header.api_key, header.api_version, self._now_ns(),
                                       [verdict.answer])
            self._local_bytes += len(verdict.answer)
            self._release()
        elif verdict.answer:
            self._to_client.append(verdict.answer)
        if verdict.failed:
            self._out.append(ReportLoginFailure(verdict.failed))
        if verdict.logged_in:
            self._client_frames.limit = self._max_frame_bytes
            self._out.append(ConnectUpstream(verdict.logged_in))
        if verdict.close:
            self._close(verdict.close)

    def _hold(self, frame: memoryview) -> None:
        """Copied: a frame may be a view of the relay's read buffer, which the next read overwrites."""
        self._held.append(memoryview(bytes(frame)))
        self._held_bytes += len(frame)
        if self._held_bytes > self._hold_limit and not self._holding_paused:
            self._holding_paused = True
            self._out.append(PauseClientReading())

    def _reauthenticate(self) -> None:
        """Start renewing the upstream session; client requests wait until it is done."""
        assert self._session is not None
        self._login, self._login_mapper, self._reauth_at_ns = self._session.again(), self._mapper, None
        self._to_upstream.append(self._login.start())

    def _upstream_connected(self, mapper: NodeMapper, login: UpstreamLogin | None = None) -> None:
        if login is not None:
            self._login, self._login_mapper = login, mapper
            self._to_upstream.append(login.start())
            return
        self._mapper = mapper
        held, self._held, self._held_bytes = self._held, [], 0
        try:
            for frame in held:
                self._on_request(frame, mapper)
        except ProtocolError as exc:
            self._close(str(exc), "client", exc)
            return
        if self._holding_paused:
            self._holding_paused = False
            self._out.append(ResumeClientReading())

    def _on_request(self, frame: memoryview, mapper: NodeMapper) -> None:
        header = peek_request_header(frame)
        key, version = header.api_key, header.api_version
        decisions = self._decisions
        if decisions.frame_tap is not None:
            decisions.frame_tap(True, key, version, bytes(frame[header.header_length:]))
        decisions.metrics.tally.request(key)
        now = self._now_ns()
        local = decisions.answer_locally(self.client, header, frame)
        if isinstance(local, Hold):
            self._order.hold(header.correlation_id, key, version, now)
            return
        if local is not None:
            if local:  # an empty answer swallows the request (a fenced acks=0 Produce)
                kept = sum(map(len, local))
                self._order.answer_locally(header.correlation_id, key, version, now, local, kept)
                self._local_bytes += kept
                self._release()
            return
        if carries_ids(key, version, True):
            frame = writable(frame)
            map_request(key, version, frame[header.header_length:], mapper.topics.to_real)
        if key == FETCH:
            self._order.expect_upstream(header.correlation_id, key, version, now)
            self._to_upstream += fetch_without_epochs(frame, header.header_length, version)
            return
        out: bytes | memoryview = frame
        if request_needs_rewrite(key, version) and key in MESSAGES:
            out = self._rewrite_request(frame, header.header_length, key, version, mapper)
        elif key in REWRITTEN_BY_INTERCEPTORS:
            out = decisions.rewrite_request(header, frame) or frame
        if not (key == PRODUCE and produce_acks(frame, header.header_length, version) == 0):
            self._order.expect_upstream(header.correlation_id, key, version, now)
        self._to_upstream += (_SIZE.pack(len(out)), out)

    def _rewrite_request(self, frame: memoryview, header_length: int, key: int, version: int,
                         mapper: NodeMapper) -> bytes | memoryview:
        spec = MESSAGES[key].REQUEST
        body = schema.decode(spec, version, frame[header_length:])
        if not REQUEST_REWRITERS[key](body, version, mapper):
            return frame
        self._decisions.metrics.rewrite(key).inc()
        return bytes(frame[:header_length]) + schema.encode(spec, version, body)

    # -- upstream side ---------------------------------------------------------------------------------------

    def _upstream_data(self, data: Buffer) -> None:
        splitter = self._upstream_frames
        splitter.lend(data)
        try:
            while not self._closed and (frame := splitter.next_frame()) is not None:
                if self._login is not None and not self._order.upstream_outstanding:
                    self._on_login_response(self._login, frame)
                else:
                    self._on_response(frame)
        except ProtocolError as exc:
            self._close(f"bad upstream frame: {exc}", "upstream", exc)

    def _on_login_response(self, login: UpstreamLogin, frame: memoryview) -> None:
        try:
            request = login.on_response(frame)
        except SaslError as exc:
            self._out.append(ReportLoginFailure(str(exc), upstream=True))
            self._close(f"upstream {exc}")
            return
        if request is not None:
            self._to_upstream.append(request)
            return
        renewed = self._session is not None
        mapper, self._login, self._login_mapper, self._session = self._login_mapper, None, None, login
        if login.session_lifetime_ms > 0:
            self._reauth_at_ns = self._now_ns() + login.session_lifetime_ms * 850_000  # 85% of it, in ns
        if renewed:
            self._out.append(ReportUpstreamReauthenticated())
        assert mapper is not None
        self._upstream_connected(mapper)

    def _on_response(self, frame: memoryview) -> None:
        if len(frame) < 4:
            raise RemoteProtocolError(f"response of {len(frame)} bytes has no correlation id")
        entry = self._order.match_upstream(_SIZE.unpack_from(frame)[0])
        decisions = self._decisions
        decisions.metrics.tally.response(entry.api_key, (self._now_ns() - entry.started_ns) / 1e9)
        if decisions.frame_tap is not None:
            offset = response_header_length(entry.api_key, entry.api_version, frame)
            decisions.frame_tap(False, entry.api_key, entry.api_version, bytes(frame[offset:]))
        if carries_ids(entry.api_key, entry.api_version, False) and self._mapper is not None:
            frame = writable(frame)
            offset = response_header_length(entry.api_key, entry.api_version, frame)
            map_response(entry.api_key, entry.api_version, frame[offset:], self._mapper.topics.to_virtual)
        if response_needs_rewrite(entry.api_key, entry.api_version) and self._mapper is not None:
            entry.answer = self._rewrite_response(frame, entry.api_key, entry.api_version, self._mapper)
        else:
            entry.answer = [_SIZE.pack(len(frame)), frame]
        decisions.on_upstream_answer(self.client, entry)
        if self._order.held and entry.answer is not None:  # it waits behind a hold: out of the read buffer
            entry.answer = [b"".join(entry.answer)]
            entry.kept_bytes = len(entry.answer[0])
            self._local_bytes += entry.kept_bytes
        self._release()

    def _rewrite_response(self, frame: memoryview, key: int, version: int, mapper: NodeMapper
                          ) -> list[Part]:
        """Hot APIs go through the zero-copy patchers; the rest through decode, rewrite, encode."""
        offset = response_header_length(key, version, frame)
        body = frame[offset:]
        pieces: list[bytes | memoryview]
        if version in patched_versions(key):
            patched = PATCHERS[key](body, version, mapper)
            pieces = [patched] if isinstance(patched, bytes) else patched
            if len(pieces) == 1 and pieces[0] is body:
                return [_SIZE.pack(len(frame)), frame]
        else:
            spec = MESSAGES[key].RESPONSE
            decoded = schema.decode(spec, version, body)
            RESPONSE_REWRITERS[key](decoded, version, mapper)
            pieces = [schema.encode(spec, version, decoded)]
        self._decisions.metrics.rewrite(key).inc()
        return [_SIZE.pack(offset + sum(len(p) for p in pieces)), frame[:offset], *pieces]

    def _release(self) -> None:
        for entry in self._order.release():
            assert entry.answer is not None
            self._local_bytes -= entry.kept_bytes
            self._to_client += entry.answer


def writable(frame: memoryview) -> memoryview:
    """The frame itself when ids can be written into it (the splitter's views are); else a copy."""
    return memoryview(bytearray(frame)) if frame.readonly else frame


def fetch_without_epochs(frame: memoryview, header_length: int, version: int) -> list[Part]:
    """A Fetch frame with no CurrentLeaderEpoch the broker could fence (see protocol.patch.fetch_request)."""
    body = frame[header_length:]
    pieces = clear_leader_epochs(body, version)
    if len(pieces) == 1 and pieces[0] is body:
        return [_SIZE.pack(len(frame)), frame]
    return [_SIZE.pack(len(frame)), frame[:header_length], *pieces]


def produce_acks(frame: memoryview, header_length: int, version: int) -> int:
    """Acks of a Produce request (after the nullable TransactionalId, v3+); RemoteProtocolError if unreadable."""
    try:
        pos = header_length
        if version >= 9:
            n, pos = read_uvarint(frame, pos)
            pos += max(n - 1, 0)
        elif version >= 3:
            n = _INT16.unpack_from(frame, pos)[0]
            pos += 2 + max(n, 0)
        acks: int = _INT16.unpack_from(frame, pos)[0]
        return acks
    except (struct.error, IndexError) as exc:
        raise RemoteProtocolError(f"unreadable Produce request: {exc}") from exc
