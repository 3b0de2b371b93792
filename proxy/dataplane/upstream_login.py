"""The upstream side of a terminating listener: the proxy logs in to the broker before relaying.

With SASL terminated at the proxy, the client's own credentials never reach the cluster; each
upstream connection the proxy opens for it logs in with the active cluster's service credentials
(`clusters.X.sasl`), so after a switch new connections log in to B with B's. This is that
login as sans-IO frames: `start()` gives the SaslHandshake v1 request, each broker response goes
to `on_response`, which returns the next request or None once logged in, and raises `SaslError`
on a refusal (the core then closes the client's connection: it cannot be served).

The login's correlation ids are its own: no client request is forwarded before it completes, so
nothing else is at the broker while these are.

KIP-368: a broker with `connections.max.reauth.ms` answers the last SaslAuthenticate with a
session lifetime and closes the connection at the first request after it ends. `again()` is the
same login as a fresh exchange (the core runs it on the open connection before the session ends:
see connection.py); the password stays the one read when the connection opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol import schema
from protocol.errors import RemoteProtocolError
from protocol.headers import encode_request_header, response_header_length
from protocol.messages import sasl_authenticate, sasl_handshake
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import SaslError

CLIENT_ID = "kafka-failover-proxy-login"


class UpstreamLogin:
    __slots__ = ("_correlation", "_expect", "_login", "_make", "_version", "session_lifetime_ms", "username")

    def __init__(self, make: Callable[[], ClientLogin], username: str, authenticate_version: int = 2) -> None:
        self._make = make
        self._login = make()
        self.username = username
        self._version = authenticate_version
        self._correlation = 0
        self._expect = sasl_handshake.API_KEY
        self.session_lifetime_ms = 0  # from the broker's last answer: 0 = the session does not expire

    def again(self) -> UpstreamLogin:
        """The same login as a new exchange, for KIP-368 re-authentication."""
        return UpstreamLogin(self._make, self.username, self._version)

    def start(self) -> bytes:
        return self._request(sasl_handshake, 1, {"Mechanism": self._login.mechanism})

    def on_response(self, frame: memoryview) -> bytes | None:
        """The next request frame, or None when logged in; SaslError when the broker refuses."""
        where = f"service login {self._login.mechanism} as {self.username!r}"
        if self._expect == sasl_handshake.API_KEY:
            answer = self._decode(sasl_handshake, 1, frame)
            if answer.ErrorCode != 0:
                raise SaslError(f"{where}: SaslHandshake error {answer.ErrorCode} (broker enables "
                                f"{list(answer.Mechanisms)})")
            self._expect = sasl_authenticate.API_KEY
            return self._authenticate(self._login.first())
        answer = self._decode(sasl_authenticate, self._version, frame)
        if answer.ErrorCode != 0:
            raise SaslError(f"{where}: error {answer.ErrorCode}: {answer.ErrorMessage}")
        try:
            token = self._login.respond(bytes(answer.AuthBytes))
        except SaslError as exc:
            raise SaslError(f"{where}: {exc}") from None
        if token is None:
            self.session_lifetime_ms = answer.get("SessionLifetimeMs", 0)
            return None
        return self._authenticate(token)

    def _authenticate(self, token: bytes) -> bytes:
        return self._request(sasl_authenticate, self._version, {"AuthBytes": token})

    def _request(self, module: Any, version: int, body: dict[str, Any]) -> bytes:
        self._correlation += 1
        payload = encode_request_header(module.API_KEY, version, self._correlation, CLIENT_ID)
        payload += schema.encode(module.REQUEST, version, body)
        return len(payload).to_bytes(4, "big") + payload

    def _decode(self, module: Any, version: int, frame: memoryview) -> Any:
        if len(frame) < 4 or int.from_bytes(frame[:4], "big", signed=True) != self._correlation:
            raise RemoteProtocolError("broker answered the service login out of turn")
        offset = response_header_length(module.API_KEY, version, frame)
        return schema.decode(module.RESPONSE, version, frame[offset:])
