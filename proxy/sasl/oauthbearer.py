"""OAUTHBEARER (RFC 7628) on the server side, as Kafka speaks it (KIP-255), with no I/O.

The client sends one message, the client initial response:

    gs2-header  kvsep  *(key "=" value kvsep)  kvsep        kvsep = %x01
    "n,," or "n,a=<authzid>,"                              ("y" accepted, "p" refused: no channel binding)

with the pair `auth=Bearer <jwt>` among the key/value pairs; any other pairs are SASL extensions
(KIP-342), which the proxy accepts and ignores, as a broker does for ones its validator does not know.

A good token completes the exchange with an empty server message; the principal is the token's
configured claim, and an authzid, when given, must equal it. A token that fails validation is
answered, as the RFC and Kafka's OAuthBearerSaslServer do, with an error challenge
`{"status":"invalid_token"}` that does not yet complete the exchange; the client acknowledges it
with a lone kvsep and only then gets the authentication failure (`SaslAuthenticationFailed`,
whose text says which check failed). A malformed message fails at once.
"""

from __future__ import annotations

import json
import re

from proxy.sasl.jwt_validator import TokenRejected, TokenValidator
from proxy.sasl.scram import SaslAuthenticationFailed, SaslError

KVSEP = b"\x01"
ERROR_CHALLENGE = json.dumps({"status": "invalid_token"}, separators=(",", ":")).encode()
_GS2 = re.compile(rb"(?P<flag>[ny]),(?:a=(?P<authzid>[^,\x01]+))?,\x01(?P<pairs>(?:[A-Za-z]+=[^\x01]*\x01)*)\x01")
_AUTH = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(?P<token>[A-Za-z0-9\-._~+/]+=*)")


def client_initial_response(token: str, authzid: str = "", extensions: dict[str, str] | None = None) -> bytes:
    """What a client sends; used by tests and by nothing in the data path."""
    gs2 = f"n,a={authzid.replace('=', '=3D').replace(',', '=2C')}," if authzid else "n,,"
    pairs = "".join(f"{key}={value}\x01" for key, value in {**(extensions or {}), "auth": f"Bearer {token}"}.items())
    return f"{gs2}\x01{pairs}\x01".encode()


def parse_initial_response(message: bytes) -> tuple[str, str]:
    """(bearer token, authzid); SaslError for anything the RFC's grammar does not allow."""
    match = _GS2.fullmatch(message)
    if match is None:
        raise SaslError("malformed OAUTHBEARER client initial response (GS2 header or key/value pairs)")
    pairs: dict[str, str] = {}
    for pair in match["pairs"].split(KVSEP)[:-1]:
        key, _, value = pair.decode("utf-8", "replace").partition("=")
        pairs.setdefault(key, value)
    auth = _AUTH.fullmatch(pairs.get("auth", ""))
    if auth is None:
        raise SaslError("OAUTHBEARER client initial response has no auth=Bearer <token>")
    authzid = (match["authzid"] or b"").decode("utf-8", "replace").replace("=2C", ",").replace("=3D", "=")
    return auth["token"], authzid


class OAuthBearerServer:
    """One client's exchange: `respond(message)` returns (server message, complete)."""

    def __init__(self, validator: TokenValidator) -> None:
        self._validator = validator
        self.principal = ""  # set once the exchange completed
        self._rejection = ""  # why the token failed, told after the client acknowledged the error

    def respond(self, message: bytes) -> tuple[bytes, bool]:
        if self._rejection:
            raise SaslAuthenticationFailed(
                f"Authentication failed with SASL mechanism OAUTHBEARER: invalid_token: {self._rejection}")
        if message == KVSEP:
            raise SaslError("OAUTHBEARER error acknowledgement without an error")
        token, authzid = parse_initial_response(message)
        try:
            principal = self._validator.principal(token)
        except TokenRejected as exc:
            self._rejection = str(exc)
            return ERROR_CHALLENGE, False
        if authzid and authzid != principal:
            raise SaslAuthenticationFailed(f"Authentication failed: the authorization id {authzid!r} differs from "
                                           f"the token's principal {principal!r}")
        self.principal = principal
        return b"", True
