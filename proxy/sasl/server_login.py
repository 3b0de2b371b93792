"""The server side of one client login, for any mechanism a terminating listener enables.

The Kafka framing (SaslHandshake, SaslAuthenticate, the raw tokens after a v0 handshake) is the
data plane's (`proxy.dataplane.sasl_gate`); this is only the mechanism: `respond(token)` returns
the next server token and whether the exchange is complete. Any failure is a `SaslError` whose
text names the user at most, never a password or proof; the gate answers it with error 58.

PLAIN is one round; SCRAM two (server-first, then server-final once the proof checks out);
OAUTHBEARER one, or two when a bad token is answered with the RFC 7628 error challenge first.
"""

from __future__ import annotations

from proxy.sasl import plain
from proxy.sasl.authenticators import ClientAuthenticators
from proxy.sasl.oauthbearer import OAuthBearerServer
from proxy.sasl.scram import HASHES, SaslError, ScramServer
from proxy.sasl.settings import OAUTHBEARER


class ServerLogin:
    def __init__(self, mechanism: str, authenticators: ClientAuthenticators) -> None:
        self.mechanism = mechanism
        self.principal = ""  # the authenticated user, set once `respond` reports completion
        self._round = 0
        self._oauth: OAuthBearerServer | None = None
        self._scram: ScramServer | None = None
        if mechanism == OAUTHBEARER and authenticators.tokens is not None:
            self._oauth = OAuthBearerServer(authenticators.tokens)
            return
        credentials = authenticators.credentials
        if credentials is None or (mechanism != "PLAIN" and mechanism not in HASHES):
            raise SaslError(f"unsupported mechanism {mechanism!r}")
        self._credentials = credentials
        if mechanism != "PLAIN":
            self._scram = ScramServer(mechanism, lambda user: credentials.lookup(user, mechanism))

    def respond(self, token: bytes) -> tuple[bytes, bool]:
        """(server token, complete); SaslError when the client's token is wrong or malformed."""
        self._round += 1
        if self._oauth is not None:
            answer, complete = self._oauth.respond(token)
            self.principal = self._oauth.principal
            return answer, complete
        if self._scram is None:
            return self._plain(token), True
        if self._round == 1:
            return self._scram.first(token), False
        if self._round == 2:
            server_final = self._scram.final(token)
            self.principal = self._scram.username
            return server_final, True
        raise SaslError("SCRAM exchange already complete")

    def _plain(self, token: bytes) -> bytes:
        user, password = plain.parse_token(token)
        if not plain.verify(self._credentials.any_entry(user), password):
            raise SaslError(f"authentication failed for user {user!r}")
        self.principal = user
        return b""
