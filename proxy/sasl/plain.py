"""PLAIN (RFC 4616): one token `authzid NUL authcid NUL password`, checked against a SCRAM entry.

The proxy keeps no clear passwords, so a PLAIN password is salted with the user's SCRAM entry and
its StoredKey compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from proxy.sasl.scram import HASHES, SaslError, ScramCredential, salted_password


def client_token(username: str, password: str) -> bytes:
    return f"\0{username}\0{password}".encode()


def parse_token(token: bytes) -> tuple[str, str]:
    """(username, password); SaslError for a malformed token or an authzid naming someone else."""
    parts = token.split(b"\0")
    if len(parts) != 3 or not parts[1]:
        raise SaslError("malformed PLAIN token")
    authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
    if authzid and authzid != user:
        raise SaslError("PLAIN authorization id differs from the user: not supported")
    return user, password


def verify(credential: ScramCredential | None, password: str) -> bool:
    if credential is None:
        return False
    name = HASHES[credential.mechanism]
    salted = salted_password(credential.mechanism, password, credential.salt, credential.iterations)
    stored = hashlib.new(name, hmac.new(salted, b"Client Key", name).digest()).digest()
    return hmac.compare_digest(stored, credential.stored_key)
