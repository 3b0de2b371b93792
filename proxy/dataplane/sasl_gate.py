"""SASL termination at the proxy: the Kafka side of a client's login, with no I/O.

A listener with `sasl: {mode: terminate}` authenticates clients itself. Until a client has
logged in, the connection core hands every frame here and forwards nothing; the proxy has not
even opened the upstream connection (an unauthenticated client costs the brokers nothing). The
rules are the broker's own (Kafka's SaslServerAuthenticator):

    ApiVersions            answered (by the core, as on any connection)
    SaslHandshake v0/v1    names a mechanism: an enabled one is accepted, any other gets
                           UNSUPPORTED_SASL_MECHANISM (33) with the enabled list, then a close
    SaslAuthenticate       one token of the exchange (`proxy.sasl.server_login`); a wrong
                           password or malformed token gets SASL_AUTHENTICATION_FAILED (58) with
                           a message naming the mechanism (an OAUTHBEARER token: which check
                           failed, after the RFC 7628 error challenge), then a close
    raw token (after v0)   the same exchange without the Kafka framing: a size-prefixed token
                           each way; a failure closes without an answer, as a broker does
    anything else          ILLEGAL_SASL_STATE: a SaslAuthenticate before a handshake is
                           answered 34; any other request closes the connection unanswered
                           (its response format may not even be known), with the reason logged

States:

    HANDSHAKE --SaslHandshake v1--> AUTHENTICATE --last token ok--> LOGGED_IN
        |      --SaslHandshake v0--> RAW_TOKENS   --last token ok--> LOGGED_IN
        +-- anything else: close                                       |
                                                                       v
    LOGGED_IN --SaslHandshake v1--> AUTHENTICATE (KIP-368 re-authentication, same principal only)

Re-authentication (KIP-368): SaslAuthenticate v1+ answers carry SessionLifetimeMs = 0, which tells
clients the session does not expire, so they never re-authenticate; a client that does anyway
(v1 handshake on a logged-in connection) runs the exchange again and must end as the same
principal, as brokers require. Requests already at the broker are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import schema
from protocol.headers import RequestHeader, encode_response_header
from protocol.messages import sasl_authenticate, sasl_handshake
from proxy.sasl.authenticators import ClientAuthenticators
from proxy.sasl.scram import SaslAuthenticationFailed, SaslError
from proxy.sasl.server_login import ServerLogin

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58
SASL_APIS = frozenset({SASL_HANDSHAKE, SASL_AUTHENTICATE})
FAILED_MESSAGE = "Authentication failed during authentication due to invalid credentials with SASL mechanism"


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """What to do with one frame: send `answer` (a whole frame), then close if `close` says why.

    `logged_in` names the principal when this frame completed the first login; `failed` is the
    failure to log (user and mechanism at most: no secret ever reaches it)."""

    answer: bytes = b""
    close: str = ""
    logged_in: str = ""
    failed: str = ""


class SaslGate:
    """One client connection's login state; `on_request` / `on_raw_token` take its frames."""

    __slots__ = ("_authenticators", "_login", "_mechanisms", "principal", "raw_tokens")

    def __init__(self, mechanisms: tuple[str, ...], authenticators: ClientAuthenticators) -> None:
        self._mechanisms = mechanisms
        self._authenticators = authenticators
        self._login: ServerLogin | None = None
        self.principal = ""  # set once logged in
        self.raw_tokens = False  # after a v0 handshake the next frames are bare tokens

    @property
    def logged_in(self) -> bool:
        return bool(self.principal)

    def wants(self, api_key: int) -> bool:
        """Whether a request with this key is the gate's: everything before login, SASL after."""
        return not self.principal or api_key in SASL_APIS

    def on_request(self, header: RequestHeader, frame: memoryview) -> GateVerdict:
        key = header.api_key
        if key == SASL_HANDSHAKE:
            return self._handshake(header, frame)
        if key == SASL_AUTHENTICATE:
            return self._authenticate(header, frame)
        return GateVerdict(close=f"api {key} before SASL login (ILLEGAL_SASL_STATE): closing as a broker does")

    # -- SaslHandshake ------------------------------------------------------------------------------

    def _handshake(self, header: RequestHeader, frame: memoryview) -> GateVerdict:
        version = header.api_version
        request = schema.decode(sasl_handshake.REQUEST, version, frame[header.header_length:])
        mechanism = request.Mechanism
        if self._login is not None or self.raw_tokens or (self.principal and version == 0):
            answer = self._handshake_answer(header, ILLEGAL_SASL_STATE)
            return GateVerdict(answer, close="SaslHandshake in the middle of an exchange (ILLEGAL_SASL_STATE)")
        if mechanism not in self._mechanisms:
            answer = self._handshake_answer(header, UNSUPPORTED_SASL_MECHANISM)
            return GateVerdict(answer, close=f"unsupported SASL mechanism {mechanism!r}",
                               failed=f"SASL mechanism {mechanism!r} is not enabled")
        self._authenticators.refresh()
        self._login = ServerLogin(mechanism, self._authenticators)
        self.raw_tokens = version < sasl_handshake.FRAMED_TOKENS_FROM
        return GateVerdict(self._handshake_answer(header, 0))

    def _handshake_answer(self, header: RequestHeader, error: int) -> bytes:
        body = schema.new(sasl_handshake.RESPONSE, header.api_version, ErrorCode=error,
                          Mechanisms=list(self._mechanisms))
        return _frame(header, schema.encode(sasl_handshake.RESPONSE, header.api_version, body))

    # -- SaslAuthenticate and raw tokens ------------------------------------------------------------------

    def _authenticate(self, header: RequestHeader, frame: memoryview) -> GateVerdict:
        version = header.api_version
        if self._login is None or self.raw_tokens:
            answer = self._authenticate_answer(header, ILLEGAL_SASL_STATE, "SaslAuthenticate before SaslHandshake")
            return GateVerdict(answer, close="SaslAuthenticate before SaslHandshake (ILLEGAL_SASL_STATE)")
        request = schema.decode(sasl_authenticate.REQUEST, version, frame[header.header_length:])
        mechanism = self._login.mechanism
        try:
            token, principal = self._step(bytes(request.AuthBytes))
        except SaslError as exc:  # Kafka tells the client the text of an authentication failure, else a generic one
            message = str(exc) if isinstance(exc, SaslAuthenticationFailed) else f"{FAILED_MESSAGE} {mechanism}"
            return GateVerdict(self._authenticate_answer(header, SASL_AUTHENTICATION_FAILED, message),
                               close="SASL authentication failed", failed=f"{mechanism}: {exc}")
        return self._completed(principal, self._authenticate_answer(header, 0, None, token))

    def on_raw_token(self, frame: memoryview) -> GateVerdict:
        """A bare token after a v0 handshake: answered with a bare size-prefixed token."""
        assert self._login is not None
        mechanism = self._login.mechanism
        try:
            token, principal = self._step(bytes(frame))
        except SaslError as exc:
            return GateVerdict(close="SASL authentication failed", failed=f"{mechanism} (v0): {exc}")
        if principal:
            self.raw_tokens = False
        return self._completed(principal, len(token).to_bytes(4, "big") + token)

    def _step(self, token: bytes) -> tuple[bytes, str]:
        """The server token, and the principal when this token completed the exchange."""
        assert self._login is not None
        answer, complete = self._login.respond(token)
        if not complete:
            return answer, ""
        principal, self._login = self._login.principal, None
        if self.principal and principal != self.principal:
            raise SaslError(f"re-authentication as {principal!r} on a connection of {self.principal!r}")
        return answer, principal

    def _completed(self, principal: str, answer: bytes) -> GateVerdict:
        first = bool(principal) and not self.principal
        if principal:
            self.principal = principal
        return GateVerdict(answer, logged_in=principal if first else "")

    def _authenticate_answer(self, header: RequestHeader, error: int, message: str | None,
                             token: bytes = b"") -> bytes:
        version = header.api_version
        body = schema.new(sasl_authenticate.RESPONSE, version, ErrorCode=error, ErrorMessage=message,
                          AuthBytes=token, SessionLifetimeMs=0)
        return _frame(header, schema.encode(sasl_authenticate.RESPONSE, version, body))


def _frame(header: RequestHeader, body: bytes) -> bytes:
    payload = encode_response_header(header.api_key, header.api_version, header.correlation_id) + body
    return len(payload).to_bytes(4, "big") + payload
