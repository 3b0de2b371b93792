"""SASL termination in the connection core, without sockets: the client's login answered by the
proxy, the upstream's service login run by it, and every refusal on that connection only.

The client's side of each exchange is the proxy's own `ClientLogin` (the same code that logs the
proxy in to brokers, tested against the RFC vectors in tests/unit/sasl); the broker's side of the
upstream login is a real `ScramServer` over a credential the test made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import peek_request_header, response_header_length
from protocol.messages import metadata, sasl_authenticate, sasl_handshake
from proxy.dataplane.connection import (
    PRE_LOGIN_MAX_FRAME,
    ClientDataReceived,
    CloseConnection,
    Command,
    Connection,
    ConnectUpstream,
    ReportLoginFailure,
    ReportUpstreamReauthenticated,
    SendClient,
    SendUpstream,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.sasl_gate import SaslGate
from proxy.dataplane.upstream_login import UpstreamLogin
from proxy.metrics import Metrics
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import ScramServer, format_entry, make_credential
from tests.unit.dataplane.test_connection import api_versions_request, list_offsets, request, response, sized

PASSWORD = "alice-pw"
AUTH_V = 2


def handshake(correlation_id: int, mechanism: str, version: int = 1) -> bytes:
    body = schema.encode(sasl_handshake.REQUEST, version, {"Mechanism": mechanism})
    return request(17, version, correlation_id, body)


def authenticate(correlation_id: int, token: bytes, version: int = AUTH_V) -> bytes:
    return request(36, version, correlation_id, schema.encode(sasl_authenticate.REQUEST, version, {"AuthBytes": token}))


def metadata_request(correlation_id: int) -> bytes:
    return request(3, 12, correlation_id, schema.encode(metadata.REQUEST, 12, schema.new(metadata.REQUEST, 12)))


def answers(commands: list[Command]) -> list[Any]:
    """Every frame sent to the client, decoded as the SASL answer it is (by its api key)."""
    out: list[Any] = []
    for command in commands:
        if isinstance(command, SendClient):
            data = b"".join(command.parts)
            while data:
                size = int.from_bytes(data[:4], "big")
                out.append(data[4:4 + size])
                data = data[4 + size:]
    return out


def decode(frame: bytes, module: Any, version: int) -> Any:
    offset = response_header_length(module.API_KEY, version, frame)
    return schema.decode(module.RESPONSE, version, frame[offset:])


class Client:
    peer = "10.0.0.9:50000"
    virtual_node = None


class Terminating:
    """A real ProxyContext whose listener terminates SASL against a credentials file with alice."""

    def __init__(self, tmp_path: Path, mechanisms: list[str] | None = None) -> None:
        self.now_ns = 0
        credentials = tmp_path / "users.scram"
        credentials.write_text("# users\n" + "".join(
            format_entry("alice", make_credential(m, PASSWORD)) + "\n" for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")))
        sasl = {"mode": "terminate", "credentials_file": str(credentials)}
        if mechanisms is not None:
            sasl["mechanisms"] = mechanisms  # type: ignore[assignment]
        config = proxy_config({"A": "127.0.0.1:1"}, "A", listeners={"sasl": sasl})
        self.context = ProxyContext(config, Metrics(clusters=["A"]))
        assert self.context.client_authenticators is not None and config.listeners.sasl is not None
        self.gate = SaslGate(config.listeners.sasl.mechanisms, self.context.client_authenticators)
        self.core = Connection(self.context, Client(), 1 << 20, 1000, now_ns=lambda: self.now_ns, gate=self.gate)
        self.mapper = self.context.virtual.mapper("A")

    def send(self, data: bytes) -> list[Command]:
        return self.core.handle(ClientDataReceived(data))

    def login(self, mechanism: str = "SCRAM-SHA-512", password: str = PASSWORD) -> list[Command]:
        """Handshake and every SaslAuthenticate round; the commands of the last round."""
        assert decode(answers(self.send(handshake(1, mechanism)))[0], sasl_handshake, 1).ErrorCode == 0
        login = ClientLogin(mechanism, "alice", password)
        token: bytes | None = login.first()
        correlation = 2
        while token is not None:
            commands = self.send(authenticate(correlation, token))
            answer = decode(answers(commands)[0], sasl_authenticate, AUTH_V)
            if answer.ErrorCode != 0:
                return commands
            assert answer.SessionLifetimeMs == 0  # KIP-368: clients never need to re-authenticate
            token = login.respond(bytes(answer.AuthBytes))
            correlation += 1
        return commands


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_a_client_logs_in_and_only_then_is_an_upstream_opened(tmp_path: Path, mechanism: str) -> None:
    proxy = Terminating(tmp_path)
    assert answers(proxy.send(api_versions_request(0)))  # answered before login, as a broker does
    commands = proxy.login(mechanism)
    assert commands[-1] == ConnectUpstream("alice")
    assert not any(isinstance(c, SendUpstream) for c in commands)
    assert proxy.gate.principal == "alice"


def test_requests_pipelined_after_login_are_held_until_the_upstream_logged_in(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    proxy.login()
    assert proxy.send(metadata_request(9)) == []  # held: no upstream yet
    broker = ScramServer("SCRAM-SHA-512", {"kfp": make_credential("SCRAM-SHA-512", "kfp-pw")}.get)
    login = UpstreamLogin(lambda: ClientLogin("SCRAM-SHA-512", "kfp", "kfp-pw"), "kfp", AUTH_V)
    sent = proxy.core.handle(UpstreamConnected(proxy.mapper, login))
    assert [type(c) for c in sent] == [SendUpstream]  # the SaslHandshake, nothing of the client's
    handshake_ok = schema.encode(sasl_handshake.RESPONSE, 1, {"ErrorCode": 0, "Mechanisms": ["SCRAM-SHA-512"]})
    sent = proxy.core.handle(UpstreamDataReceived(response(1, handshake_ok, flexible=False)))
    client_first = upstream_token(sent)
    server_first = broker.first(client_first)
    sent = proxy.core.handle(UpstreamDataReceived(authenticate_response(2, server_first)))
    server_final = broker.final(upstream_token(sent))
    sent = proxy.core.handle(UpstreamDataReceived(authenticate_response(3, server_final)))
    assert [b"".join(c.parts) for c in sent if isinstance(c, SendUpstream)] == [metadata_request(9)]
    assert len(sent) == 1
    assert proxy.core.upstream_outstanding == 1


def upstream_token(commands: list[Command]) -> bytes:
    (send,) = commands
    assert isinstance(send, SendUpstream)
    frame = b"".join(send.parts)[4:]
    header = peek_request_header(frame)
    assert header.api_key == 36
    return bytes(schema.decode(sasl_authenticate.REQUEST, header.api_version, frame[header.header_length:]).AuthBytes)


def authenticate_response(correlation_id: int, token: bytes, error: int = 0, lifetime_ms: int = 0) -> bytes:
    body = schema.encode(sasl_authenticate.RESPONSE, AUTH_V, schema.new(
        sasl_authenticate.RESPONSE, AUTH_V, ErrorCode=error, ErrorMessage="bad" if error else None, AuthBytes=token,
        SessionLifetimeMs=lifetime_ms))
    return response(correlation_id, body)


def service_login(proxy: Terminating, lifetime_ms: int) -> list[Command]:
    """The upstream's PLAIN service login as a broker with a session lifetime answers it."""
    handshake_ok = schema.encode(sasl_handshake.RESPONSE, 1, {"ErrorCode": 0, "Mechanisms": ["PLAIN"]})
    proxy.core.handle(UpstreamDataReceived(response(1, handshake_ok, flexible=False)))
    return proxy.core.handle(UpstreamDataReceived(authenticate_response(2, b"", lifetime_ms=lifetime_ms)))


def test_the_upstream_session_is_renewed_on_the_open_connection_before_it_ends(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    proxy.login("PLAIN")
    proxy.core.handle(UpstreamConnected(proxy.mapper, UpstreamLogin(lambda: ClientLogin("PLAIN", "kfp", "pw"), "kfp")))
    assert service_login(proxy, lifetime_ms=1000) == []
    assert [type(c) for c in proxy.send(list_offsets(8))] == [SendUpstream]
    proxy.now_ns = 849 * 10**6
    assert [type(c) for c in proxy.send(list_offsets(9))] == [SendUpstream]  # before 85%: relayed as usual
    proxy.now_ns = 851 * 10**6
    (renew,) = proxy.send(list_offsets(10))
    assert isinstance(renew, SendUpstream) and b"".join(renew.parts)[4:6] == b"\x00\x11"  # a SaslHandshake
    assert answers(proxy.core.handle(UpstreamDataReceived(response(8, b"r8") + response(9, b"r9")))) == [
        b"\x00\x00\x00\x08\x00r8", b"\x00\x00\x00\x09\x00r9"]  # answers to earlier requests go on
    commands = service_login(proxy, lifetime_ms=1000)
    assert [b"".join(c.parts) for c in commands if isinstance(c, SendUpstream)] == [list_offsets(10)]
    assert any(isinstance(c, ReportUpstreamReauthenticated) for c in commands)
    assert proxy.core.upstream_outstanding == 1


def test_a_refused_service_login_closes_that_client_with_the_reason(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    proxy.login()
    login = UpstreamLogin(lambda: ClientLogin("PLAIN", "kfp", "stale-pw"), "kfp", AUTH_V)
    proxy.core.handle(UpstreamConnected(proxy.mapper, login))
    handshake_ok = schema.encode(sasl_handshake.RESPONSE, 1, {"ErrorCode": 0, "Mechanisms": ["PLAIN"]})
    proxy.core.handle(UpstreamDataReceived(response(1, handshake_ok, flexible=False)))
    commands = proxy.core.handle(UpstreamDataReceived(authenticate_response(2, b"", error=58)))
    assert [type(c) for c in commands] == [ReportLoginFailure, CloseConnection]
    assert commands[0].upstream and "'kfp'" in commands[0].message  # type: ignore[union-attr]
    assert "stale-pw" not in repr(commands)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_a_wrong_password_gets_58_then_a_close_and_names_no_secret(tmp_path: Path, mechanism: str) -> None:
    proxy = Terminating(tmp_path)
    commands = proxy.login(mechanism, password="not-the-password")
    answer = decode(answers(commands)[0], sasl_authenticate, AUTH_V)
    assert answer.ErrorCode == 58 and mechanism in answer.ErrorMessage
    assert [type(c) for c in commands] == [SendClient, ReportLoginFailure, CloseConnection]
    assert "not-the-password" not in repr(commands) and PASSWORD not in repr(commands)
    assert not any(isinstance(c, ConnectUpstream) for c in commands)


def test_an_unknown_user_fails_like_a_wrong_password(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    proxy.send(handshake(1, "SCRAM-SHA-512"))
    login = ClientLogin("SCRAM-SHA-512", "mallory", PASSWORD)
    first = decode(answers(proxy.send(authenticate(2, login.first())))[0], sasl_authenticate, AUTH_V)
    assert first.ErrorCode == 0  # a made-up salt: the exchange does not reveal who exists
    final = login.respond(bytes(first.AuthBytes))
    assert final is not None
    assert decode(answers(proxy.send(authenticate(3, final)))[0], sasl_authenticate, AUTH_V).ErrorCode == 58


def test_any_request_but_api_versions_before_login_closes_unanswered(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    commands = proxy.send(metadata_request(1) + handshake(2, "PLAIN"))
    assert [type(c) for c in commands] == [CloseConnection]
    assert "ILLEGAL_SASL_STATE" in commands[0].reason  # type: ignore[union-attr]


def test_frames_before_login_are_capped_like_a_broker_s_and_lifted_after(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    big = PRE_LOGIN_MAX_FRAME + 1
    commands = proxy.send(big.to_bytes(4, "big"))
    assert [type(c) for c in commands] == [CloseConnection] and commands[0].error == "FrameTooLarge"  # type: ignore[union-attr]
    proxy = Terminating(tmp_path)
    proxy.login("PLAIN")
    assert proxy.send(big.to_bytes(4, "big")) == []  # waits for the rest of a large Produce


def test_sasl_authenticate_before_a_handshake_is_answered_34_and_closed(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    commands = proxy.send(authenticate(1, b"\0alice\0" + PASSWORD.encode()))
    assert decode(answers(commands)[0], sasl_authenticate, AUTH_V).ErrorCode == 34
    assert isinstance(commands[-1], CloseConnection)


def test_a_mechanism_not_enabled_is_answered_33_with_the_enabled_list(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path, mechanisms=["SCRAM-SHA-512"])
    commands = proxy.send(handshake(1, "PLAIN"))
    answer = decode(answers(commands)[0], sasl_handshake, 1)
    assert (answer.ErrorCode, list(answer.Mechanisms)) == (33, ["SCRAM-SHA-512"])
    assert [type(c) for c in commands] == [SendClient, ReportLoginFailure, CloseConnection]


def test_a_v0_handshake_is_followed_by_bare_tokens(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    assert decode(answers(proxy.send(handshake(1, "SCRAM-SHA-256", version=0)))[0], sasl_handshake, 0).ErrorCode == 0
    login = ClientLogin("SCRAM-SHA-256", "alice", PASSWORD)
    server_first = answers(proxy.send(sized(login.first())))[0]
    final = login.respond(server_first)
    assert final is not None
    commands = proxy.send(sized(final))
    assert login.respond(answers(commands)[0]) is None  # the server signature checks out
    assert commands[-1] == ConnectUpstream("alice")


def test_re_authentication_is_answered_by_the_proxy_behind_requests_at_the_broker(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    proxy.login("PLAIN")
    proxy.core.handle(UpstreamConnected(proxy.mapper))
    assert [type(c) for c in proxy.send(list_offsets(9))] == [SendUpstream]
    commands = proxy.send(handshake(10, "PLAIN") + authenticate(11, b"\0alice\0" + PASSWORD.encode()))
    assert commands == []  # answered locally, waiting behind the ListOffsets still at the broker
    commands = proxy.core.handle(UpstreamDataReceived(response(9, b"meta")))
    frames = answers(commands)
    assert len(frames) == 3 and decode(frames[2], sasl_authenticate, AUTH_V).ErrorCode == 0
    assert not any(isinstance(c, (ConnectUpstream, CloseConnection)) for c in commands)


def test_re_authentication_as_someone_else_is_refused(tmp_path: Path) -> None:
    proxy = Terminating(tmp_path)
    Path(proxy.context.client_authenticators.credentials.path).write_text(  # type: ignore[union-attr]
        format_entry("alice", make_credential("SCRAM-SHA-512", PASSWORD)) + "\n"
        + format_entry("bob", make_credential("SCRAM-SHA-512", "bob-pw")) + "\n")
    proxy.login("PLAIN")
    proxy.core.handle(UpstreamConnected(proxy.mapper))
    commands = proxy.send(handshake(10, "PLAIN") + authenticate(11, b"\0bob\0bob-pw"))
    assert decode(answers(commands)[1], sasl_authenticate, AUTH_V).ErrorCode == 58
    assert isinstance(commands[-1], CloseConnection)
