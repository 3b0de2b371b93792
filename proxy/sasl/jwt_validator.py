"""An OAUTHBEARER token (a JWT, RFC 7519) checked against the listener's JWKS file.

What is checked, in this order, each failure a `TokenRejected` whose text says which check failed
(never the token itself): the JOSE header (an asymmetric `alg`; `none` and HMAC are refused), a
known `kid`, the signature with that key, `exp` (required) and `nbf` with the configured clock
skew, `iss` and `aud` when configured, and a non-empty string in the principal claim. What is not:
scopes, `jti` replay, revocation; those belong to the identity provider's token lifetime.
"""

from __future__ import annotations

from typing import Any

import jwt

from proxy.sasl.jwks import JwksFile
from proxy.sasl.settings import OAuthBearerSettings

# PyJWT's exception -> what the client is told failed
REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired (exp)"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf)"),
    (jwt.InvalidIssuerError, "wrong issuer (iss)"),
    (jwt.InvalidAudienceError, "wrong audience (aud)"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidSignatureError, "the signature does not verify"),
    (jwt.InvalidAlgorithmError, "the signing algorithm does not fit the key"),
    (jwt.DecodeError, "not a well-formed JWT"),
    (jwt.InvalidTokenError, "the token is not valid"),
)


class TokenRejected(Exception):
    """The token does not authenticate anyone; the text says which check failed."""


class TokenValidator:
    """Checks tokens for one listener; the JWKS file is re-read when it changed (one stat per login)."""

    def __init__(self, settings: OAuthBearerSettings, jwks: JwksFile | None = None) -> None:
        self.settings = settings
        self.jwks = jwks if jwks is not None else JwksFile(settings.jwks_file)

    def principal(self, token: str) -> str:
        """The principal the token names; TokenRejected when any check fails."""
        self.jwks.refresh()
        claims = self._verified_claims(token)
        principal = claims.get(self.settings.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise TokenRejected(f"the principal claim {self.settings.principal_claim!r} is missing or not a string")
        return principal

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("not a well-formed JWT") from None
        alg, kid = header.get("alg"), header.get("kid", "")
        key = self.jwks.find(kid if isinstance(kid, str) else "")
        if key is None:
            raise TokenRejected(f"no key with kid {kid!r} in the JWKS" if kid else "no kid, and the JWKS has several")
        if alg not in key.algorithms:
            allowed = ", ".join(key.algorithms)
            raise TokenRejected(f"algorithm {alg!r} is not allowed for key {key.kid!r} (allowed: {allowed})")
        settings = self.settings
        required = ["exp", *(["iss"] if settings.issuer else []), *(["aud"] if settings.audience else [])]
        try:
            return jwt.decode(token, key.for_algorithm(alg), algorithms=[alg], issuer=settings.issuer,
                              audience=settings.audience, leeway=settings.clock_skew_s,
                              options={"require": required, "verify_aud": settings.audience is not None})
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(next(text for kind, text in REASONS if isinstance(exc, kind))) from None
