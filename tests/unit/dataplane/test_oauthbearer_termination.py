"""OAUTHBEARER terminated in the connection core, without sockets: a good token opens the upstream
as its principal; a bad one gets the RFC 7628 error challenge, then error 58 with the reason and a
close of that connection only; the v0 (bare token) framing works too."""

from __future__ import annotations

from pathlib import Path

from harness.oauth_tokens import AUDIENCE, ISSUER, SigningKey, write_jwks
from harness.proxy_thread import proxy_config
from protocol.messages import sasl_authenticate, sasl_handshake
from proxy.dataplane.connection import (
    ClientDataReceived,
    CloseConnection,
    Command,
    Connection,
    ConnectUpstream,
    ReportLoginFailure,
    SendClient,
)
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.sasl_gate import SaslGate
from proxy.metrics import Metrics
from proxy.sasl.oauthbearer import ERROR_CHALLENGE, KVSEP, client_initial_response
from tests.unit.dataplane.test_sasl_termination import AUTH_V, Client, answers, authenticate, decode, handshake

KEY = SigningKey.generate("idp-1", "ES256")


class OAuthListener:
    """A real ProxyContext whose listener terminates OAUTHBEARER only, against a JWKS with KEY."""

    def __init__(self, tmp_path: Path) -> None:
        jwks = write_jwks(tmp_path / "jwks.json", KEY)
        sasl = {"mode": "terminate", "oauthbearer": {"jwks_file": str(jwks), "issuer": ISSUER, "audience": AUDIENCE}}
        config = proxy_config({"A": "127.0.0.1:1"}, "A", listeners={"sasl": sasl})
        context = ProxyContext(config, Metrics(clusters=["A"]))
        assert context.client_authenticators is not None and config.listeners.sasl is not None
        self.gate = SaslGate(config.listeners.sasl.mechanisms, context.client_authenticators)
        self.core = Connection(context, Client(), 1 << 20, 1000, now_ns=lambda: 0, gate=self.gate)

    def send(self, data: bytes) -> list[Command]:
        return self.core.handle(ClientDataReceived(data))

    def authenticate(self, correlation_id: int, token: bytes) -> tuple[list[Command], object]:
        commands = self.send(authenticate(correlation_id, token))
        return commands, decode(answers(commands)[0], sasl_authenticate, AUTH_V)


def test_a_valid_token_logs_in_as_its_subject_and_opens_the_upstream(tmp_path: Path) -> None:
    proxy = OAuthListener(tmp_path)
    assert decode(answers(proxy.send(handshake(1, "OAUTHBEARER")))[0], sasl_handshake, 1).ErrorCode == 0
    commands, answer = proxy.authenticate(2, client_initial_response(KEY.token("svc-orders")))
    assert (answer.ErrorCode, bytes(answer.AuthBytes)) == (0, b"")  # type: ignore[attr-defined]
    assert commands[-1] == ConnectUpstream("svc-orders") and proxy.gate.principal == "svc-orders"


def test_an_expired_token_gets_the_error_challenge_then_58_with_the_reason_and_a_close(tmp_path: Path) -> None:
    proxy = OAuthListener(tmp_path)
    proxy.send(handshake(1, "OAUTHBEARER"))
    commands, challenge = proxy.authenticate(2, client_initial_response(KEY.token(lifetime_s=-600)))
    assert (challenge.ErrorCode, bytes(challenge.AuthBytes)) == (0, ERROR_CHALLENGE)  # type: ignore[attr-defined]
    assert not any(isinstance(c, (CloseConnection, ConnectUpstream)) for c in commands)
    commands, failure = proxy.authenticate(3, KVSEP)
    assert failure.ErrorCode == 58  # type: ignore[attr-defined]
    assert "invalid_token: the token has expired" in failure.ErrorMessage  # type: ignore[attr-defined]
    assert [type(c) for c in commands] == [SendClient, ReportLoginFailure, CloseConnection]


def test_a_malformed_initial_response_fails_at_once_with_the_generic_message(tmp_path: Path) -> None:
    proxy = OAuthListener(tmp_path)
    proxy.send(handshake(1, "OAUTHBEARER"))
    commands, failure = proxy.authenticate(2, b"n,,auth=Bearer x")
    assert failure.ErrorCode == 58 and "OAUTHBEARER" in failure.ErrorMessage  # type: ignore[attr-defined]
    assert [type(c) for c in commands] == [SendClient, ReportLoginFailure, CloseConnection]


def test_plain_and_scram_are_not_offered_on_an_oauthbearer_only_listener(tmp_path: Path) -> None:
    proxy = OAuthListener(tmp_path)
    answer = decode(answers(proxy.send(handshake(1, "PLAIN")))[0], sasl_handshake, 1)
    assert (answer.ErrorCode, answer.Mechanisms) == (33, ["OAUTHBEARER"])


def test_after_a_v0_handshake_the_token_and_its_answer_are_bare(tmp_path: Path) -> None:
    proxy = OAuthListener(tmp_path)
    proxy.send(handshake(1, "OAUTHBEARER", version=0))
    message = client_initial_response(KEY.token("bob"))
    commands = proxy.send(len(message).to_bytes(4, "big") + message)
    assert answers(commands) == [b""] and commands[-1] == ConnectUpstream("bob")
