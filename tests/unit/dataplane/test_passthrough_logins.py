"""Passthrough logins in the connection core, without sockets: a relayed SASL exchange names its
principal in the proxy's seen set only once the broker accepted it, and leaves no secret behind.

The broker's side of a SCRAM exchange is a real `ScramServer` over a credential the test made;
the client's side is the proxy's own `ClientLogin`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import peek_request_header
from protocol.messages import sasl_authenticate, sasl_handshake
from proxy.dataplane.connection import (
    ClientDataReceived,
    Connection,
    SendUpstream,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.correlation import Pending
from proxy.dataplane.passthrough_logins import PassthroughLogins
from proxy.dataplane.seen_principals import SeenPrincipals
from proxy.metrics import Metrics
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import SaslError, ScramServer, make_credential
from tests.unit.dataplane.test_connection import request, response, sized
from tests.unit.dataplane.test_sasl_termination import AUTH_V, authenticate, handshake

SASL_AUTHENTICATION_FAILED = 58


class Client:
    """What the context reads of a connection: its peer, and what it has at the broker as it closes."""

    peer = "10.0.0.9:50000"
    virtual_node = None

    def outstanding(self, api_keys: frozenset[int]) -> int:
        return 0


class Relayed:
    """A real ProxyContext with a passthrough listener, one connection on it, and a broker that
    knows `users` (name -> password) for SCRAM-SHA-512 and PLAIN."""

    def __init__(self, users: dict[str, str]) -> None:
        self.context = ProxyContext(proxy_config({"A": "127.0.0.1:1"}, "A"), Metrics(clusters=["A"]))
        self.client = Client()
        self.core = Connection(self.context, self.client, max_frame_bytes=1 << 20, hold_limit=1 << 20)
        self.core.handle(UpstreamConnected(self.context.virtual.mapper("A")))
        self.users = {name: make_credential("SCRAM-SHA-512", pw) for name, pw in users.items()}
        self.passwords = users
        self.correlation = 0
        self.relayed: list[bytes] = []  # every byte the proxy sent the broker

    def exchange(self, mechanism: str, user: str, password: str) -> bool:
        """A whole login relayed through the core, the broker answering each token; True if it accepted."""
        self._round_trip(handshake(self._next(), mechanism), sasl_handshake, 1, {"ErrorCode": 0, "Mechanisms": []},
                         flexible=False)
        login, broker = ClientLogin(mechanism, user, password), self._broker(mechanism)
        token: bytes | None = login.first()
        while token is not None:
            try:
                answer, error = broker(token), 0
            except SaslError:
                answer, error = b"", SASL_AUTHENTICATION_FAILED
            self._round_trip(authenticate(self._next(), token), sasl_authenticate, AUTH_V,
                             {"ErrorCode": error, "AuthBytes": answer})
            if error:
                return False
            token = login.respond(answer)
        return True

    def _broker(self, mechanism: str) -> Any:
        if mechanism == "PLAIN":
            def plain(token: bytes) -> bytes:
                _, user, password = token.decode().split("\0")
                if self.passwords.get(user) != password:
                    raise SaslError("bad password")
                return b""
            return plain
        server, rounds = ScramServer(mechanism, self.users.get), iter((1, 2))
        return lambda token: server.first(token) if next(rounds) == 1 else server.final(token)

    def _next(self) -> int:
        self.correlation += 1
        return self.correlation

    def _round_trip(self, frame: bytes, module: Any, version: int, fields: dict[str, Any],
                    flexible: bool = True) -> None:
        for command in self.core.handle(ClientDataReceived(frame)):
            if isinstance(command, SendUpstream):
                self.relayed.append(b"".join(command.parts))
        body = schema.encode(module.RESPONSE, version, schema.new(module.RESPONSE, version, **fields))
        self.core.handle(UpstreamDataReceived(response(self.correlation, body, flexible)))


def test_a_scram_login_the_broker_accepts_is_seen_with_its_mechanism() -> None:
    relay = Relayed({"alice": "alice-pw"})
    assert relay.exchange("SCRAM-SHA-512", "alice", "alice-pw")
    seen = relay.context.seen_principals
    assert seen.names() == ("User:alice",)
    assert seen.scram_logins() == {"User:alice": frozenset({"SCRAM-SHA-512"})}
    assert len(relay.context.passthrough_logins) == 0  # nothing kept once the exchange is over


def test_a_wrong_scram_password_is_refused_at_the_last_round_and_never_seen() -> None:
    relay = Relayed({"alice": "alice-pw"})
    assert not relay.exchange("SCRAM-SHA-512", "alice", "wrong")  # the server-first answer had error 0
    assert relay.context.seen_principals.names() == ()
    assert len(relay.context.passthrough_logins) == 0


def test_a_plain_login_is_seen_and_its_password_is_kept_nowhere() -> None:
    relay = Relayed({"bob": "bob-secret-pw"})
    assert relay.exchange("PLAIN", "bob", "bob-secret-pw")
    assert relay.context.seen_principals.names() == ("User:bob",)
    assert relay.context.seen_principals.scram_logins() == {}  # PLAIN credentials are not readable on B
    assert any(b"bob-secret-pw" in frame for frame in relay.relayed)  # relayed to the broker unchanged...
    status = repr(relay.context.status()) + repr(relay.context.passthrough_logins._exchanges)
    assert "bob-secret-pw" not in status and "User:bob" in status  # ...and remembered only by name


def test_a_refused_plain_login_is_not_seen() -> None:
    relay = Relayed({"bob": "bob-secret-pw"})
    assert not relay.exchange("PLAIN", "bob", "guess")
    assert relay.context.seen_principals.names() == ()


def test_a_reauthentication_on_the_same_connection_is_one_more_login() -> None:
    relay = Relayed({"alice": "alice-pw"})
    assert relay.exchange("SCRAM-SHA-512", "alice", "alice-pw")
    assert relay.exchange("PLAIN", "alice", "alice-pw")  # KIP-368: a new handshake, a new exchange
    assert relay.context.seen_principals.scram_logins() == {"User:alice": frozenset({"SCRAM-SHA-512"})}


def test_a_malformed_first_token_names_no_one_and_the_relay_goes_on() -> None:
    relay = Relayed({})
    relay._round_trip(handshake(relay._next(), "PLAIN"), sasl_handshake, 1, {"ErrorCode": 0, "Mechanisms": []},
                      flexible=False)
    relay._round_trip(authenticate(relay._next(), b"no-nul-here"), sasl_authenticate, AUTH_V, {"ErrorCode": 0})
    assert b"no-nul-here" in relay.relayed[-1]  # the broker judges it, not the proxy
    assert relay.context.seen_principals.names() == () and not relay.core.closed


def test_a_connection_closed_mid_exchange_leaves_nothing_behind() -> None:
    relay = Relayed({"alice": "alice-pw"})
    relay._round_trip(handshake(relay._next(), "SCRAM-SHA-512"), sasl_handshake, 1,
                      {"ErrorCode": 0, "Mechanisms": []}, flexible=False)
    client_first = ClientLogin("SCRAM-SHA-512", "alice", "x").first()
    relay.core.handle(ClientDataReceived(authenticate(relay._next(), client_first)))
    assert len(relay.context.passthrough_logins) == 1
    relay.context.unregister(relay.client)  # type: ignore[arg-type]
    assert len(relay.context.passthrough_logins) == 0 and relay.context.seen_principals.names() == ()


def auth_body(token: bytes) -> bytes:
    return schema.encode(sasl_authenticate.REQUEST, AUTH_V, {"AuthBytes": token})


BODIES = st.one_of(st.binary(max_size=64), st.binary(max_size=64).map(auth_body))  # garbage, or a framed token


@given(st.sampled_from(["PLAIN", "SCRAM-SHA-512", "OAUTHBEARER"]), BODIES, st.binary(max_size=16))
def test_garbage_requests_and_answers_never_raise_and_one_answer_completes_only_plain(
        mechanism: str, body: bytes, answer: bytes) -> None:
    seen = SeenPrincipals()
    logins, client = PassthroughLogins(seen), Client()
    frame = handshake(1, mechanism)
    logins.on_request(client, peek_request_header(memoryview(frame)[4:]), memoryview(frame)[4:])
    frame = request(36, AUTH_V, 2, body)
    logins.on_request(client, peek_request_header(memoryview(frame)[4:]), memoryview(frame)[4:])
    logins.on_response(client, Pending(2, 36, AUTH_V, 0, answer=[sized(answer)]))
    assert len(logins) <= 1  # the exchange may go on, named or not
    assert not seen.names() or mechanism == "PLAIN"  # one answer completes only PLAIN; OAUTHBEARER names no one
