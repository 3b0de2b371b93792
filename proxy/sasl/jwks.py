"""A JWKS file (RFC 7517): the public keys a terminating listener checks OAUTHBEARER tokens with.

The file is the `{"keys": [...]}` document an identity provider publishes at its `jwks_uri`, copied
to disk by whoever runs the proxy (no HTTP fetch here: the proxy opens no connection to an identity
provider). Only public signature keys are taken: RSA (RS256/384/512, PS256/384/512), EC (ES256 on
P-256, ES384 on P-384, ES512 on P-521) and OKP (EdDSA). A symmetric (`oct`) key is refused, because
anyone able to read it could mint tokens; a key marked `"use": "enc"` is skipped.

Rotation: as with the credentials file (`proxy.sasl.watched_file`), every login stats the file and
re-reads it when it changed, so a provider's new signing key counts from the next login without a
restart; a changed file that does not parse keeps the previous keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

from proxy.sasl.watched_file import WatchedFile

# the algorithms a key type can verify; a key's own "alg" narrows it to one
FAMILIES = {"RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "OKP": ("EdDSA",)}
EC_CURVES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


class JwksUnreadable(Exception):
    """The JWKS file cannot be read or holds no usable key; the text names the file and the key."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key: its id (may be empty), and the algorithms a token signed with it may use."""

    kid: str
    algorithms: tuple[str, ...]
    jwk: dict[str, Any]

    def for_algorithm(self, alg: str) -> PyJWK:
        """The key bound to `alg`, which must be one of `algorithms` (no algorithm confusion)."""
        return PyJWK(self.jwk, alg)


def _key(entry: Any, where: str) -> VerificationKey | None:
    if not isinstance(entry, dict):
        raise JwksUnreadable(f"{where}: expected a JSON object")
    kty, alg, use = entry.get("kty"), entry.get("alg"), entry.get("use")
    if use == "enc":
        return None
    if kty == "oct":
        raise JwksUnreadable(f"{where}: a symmetric (oct) key: only public keys may be configured")
    if "d" in entry:
        raise JwksUnreadable(f"{where}: holds a private key (d): publish only the public half")
    curve = entry.get("crv")
    if kty == "EC":
        family: tuple[str, ...] = (EC_CURVES[curve],) if curve in EC_CURVES else ()
    else:
        family = FAMILIES.get(kty, ()) if isinstance(kty, str) else ()
    if not family:
        raise JwksUnreadable(f"{where}: unsupported key type {kty!r} (curve {curve!r})")
    if alg is not None and alg not in family:
        raise JwksUnreadable(f"{where}: alg {alg!r} does not fit a {kty} key")
    algorithms = (alg,) if alg is not None else family
    try:
        PyJWK(entry, algorithms[0])
    except (PyJWKError, InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise JwksUnreadable(f"{where}: not a valid {kty} key ({exc.__class__.__name__})") from None
    kid = entry.get("kid", "")
    if not isinstance(kid, str):
        raise JwksUnreadable(f"{where}: kid must be a string")
    return VerificationKey(kid, algorithms, entry)


def parse_jwks(text: str, source: str) -> tuple[VerificationKey, ...]:
    """The usable keys of one JWKS document; JwksUnreadable naming the first bad key."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JwksUnreadable(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnreadable(f'{source}: expected a JWKS document {{"keys": [...]}}')
    keys = tuple(key for i, entry in enumerate(document["keys"])
                 if (key := _key(entry, f"{source} keys[{i}]")) is not None)
    if not keys:
        raise JwksUnreadable(f"{source}: no signature key")
    kids = [key.kid for key in keys]
    if len(keys) > 1 and (not all(kids) or len(set(kids)) != len(kids)):
        raise JwksUnreadable(f"{source}: with several keys each needs its own kid")
    return keys


class JwksFile(WatchedFile[tuple[VerificationKey, ...]]):
    """The keys of one file, re-read on change; `find(kid)` is what the token validator asks."""

    def __init__(self, path: str) -> None:
        super().__init__(path, parse_jwks, JwksUnreadable)

    @property
    def keys(self) -> tuple[VerificationKey, ...]:
        return self.contents

    def find(self, kid: str) -> VerificationKey | None:
        """The key with this id; a token without a kid may use the file's only key."""
        if not kid:
            return self.contents[0] if len(self.contents) == 1 else None
        return next((key for key in self.contents if key.kid == kid), None)
