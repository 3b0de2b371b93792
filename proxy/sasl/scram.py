"""SCRAM-SHA-256/512 (RFC 5802, RFC 7677): salted credentials, a client and a server, no I/O.

Kafka carries each SCRAM message as one SaslAuthenticate token: client-first, server-first,
client-final, server-final. The server keeps only salted entries (salt, iterations, StoredKey,
ServerKey), never a password, so a stolen credentials file does not log anyone in directly. Proofs
and signatures are compared in constant time (`hmac.compare_digest`). Channel binding is not used
(gs2 header `n,,`), as in Kafka's own SCRAM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MIN_ITERATIONS = 4096


class SaslError(Exception):
    """Authentication failed or a peer sent a malformed SASL message; the text is safe to show."""


class SaslAuthenticationFailed(SaslError):
    """A failure whose text is meant for the client (Kafka's SaslAuthenticationException): the
    answer's error message is this text, not the generic one (OAUTHBEARER says why a token failed)."""


@dataclass(frozen=True)
class ScramCredential:
    """A user's salted SCRAM entry: what the server keeps instead of the password."""

    mechanism: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _h(mechanism: str) -> str:
    try:
        return HASHES[mechanism]
    except KeyError:
        raise SaslError(f"unsupported SCRAM mechanism {mechanism!r}") from None


def _hmac(name: str, key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, name).digest()


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(_h(mechanism), password.encode("utf-8"), salt, iterations)


def make_credential(mechanism: str, password: str, salt: bytes | None = None,
                    iterations: int = MIN_ITERATIONS) -> ScramCredential:
    name = _h(mechanism)
    salt = salt if salt is not None else secrets.token_bytes(24)
    salted = salted_password(mechanism, password, salt, iterations)
    client_key = _hmac(name, salted, b"Client Key")
    return ScramCredential(mechanism, salt, iterations, hashlib.new(name, client_key).digest(),
                           _hmac(name, salted, b"Server Key"))


def _attributes(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise SaslError(f"malformed SCRAM attribute {part[:16]!r}")
        out.setdefault(part[0], part[2:])
    return out


def _escape(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _unescape(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


class ScramClient:
    """Client side: `first()`, then `final(server_first)`, then `verify(server_final)`."""

    def __init__(self, mechanism: str, username: str, password: str, nonce: str | None = None) -> None:
        self._name = _h(mechanism)
        self.mechanism = mechanism
        self._password = password
        self._nonce = nonce or secrets.token_urlsafe(24)
        self._bare = f"n={_escape(username)},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self._bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode("utf-8", "replace")
        attrs = _attributes(text)
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if "e" in attrs:
            raise SaslError(f"server refused: {attrs['e']}")
        if not nonce.startswith(self._nonce) or not salt or not iterations.isdigit():
            raise SaslError("malformed or foreign SCRAM server-first message")
        salted = hashlib.pbkdf2_hmac(self._name, self._password.encode("utf-8"), base64.b64decode(salt),
                                     int(iterations))
        without_proof = f"c=biws,r={nonce}"
        auth = f"{self._bare},{text},{without_proof}".encode()
        client_key = _hmac(self._name, salted, b"Client Key")
        signature = _hmac(self._name, hashlib.new(self._name, client_key).digest(), auth)
        self._server_signature = _hmac(self._name, _hmac(self._name, salted, b"Server Key"), auth)
        proof = base64.b64encode(_xor(client_key, signature)).decode()
        return f"{without_proof},p={proof}".encode()

    def verify(self, server_final: bytes) -> None:
        attrs = _attributes(server_final.decode("utf-8", "replace"))
        if "e" in attrs:
            raise SaslError(f"server refused: {attrs['e']}")
        if not hmac.compare_digest(base64.b64decode(attrs.get("v", "")), self._server_signature):
            raise SaslError("server signature does not match: not the server holding our credential")


class ScramServer:
    """Server side of one exchange: `first(client_first)` -> server-first, `final(client_final)`.

    `lookup(username)` returns the user's entry or None; an unknown user gets a made-up salt and
    fails at the proof like a wrong password, so the exchange does not reveal which users exist.
    """

    def __init__(self, mechanism: str, lookup: Callable[[str], ScramCredential | None],
                 nonce: str | None = None) -> None:
        self._name = _h(mechanism)
        self.mechanism = mechanism
        self._lookup = lookup
        self._nonce = nonce or secrets.token_urlsafe(24)
        self.username = ""
        self._credential: ScramCredential | None = None
        self._auth_prefix = ""
        self._combined_nonce = ""
        self._known = False  # the user exists: an unknown one runs the exchange on a made-up entry

    def first(self, client_first: bytes) -> bytes:
        text = client_first.decode("utf-8", "replace")
        if not text.startswith("n,"):
            raise SaslError("channel binding is not supported (gs2 header must be 'n,,')")
        _gs2, _, bare = text[2:].partition(",")
        attrs = _attributes(bare)
        if "n" not in attrs or "r" not in attrs:
            raise SaslError("SCRAM client-first message lacks a user name or nonce")
        self.username = _unescape(attrs["n"])
        found = self._lookup(self.username)
        credential = found if found is not None and found.mechanism == self.mechanism else None
        self._credential = credential or make_credential(self.mechanism, secrets.token_hex(16))
        self._known = credential is not None
        nonce = attrs["r"] + self._nonce
        salt = base64.b64encode(self._credential.salt).decode()
        server_first = f"r={nonce},s={salt},i={self._credential.iterations}"
        self._auth_prefix = f"{bare},{server_first}"
        self._combined_nonce = nonce
        return server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        """The server-final message; SaslError when the proof is wrong (the caller answers error 58)."""
        credential = self._credential
        if credential is None:
            raise SaslError("SCRAM client-final before client-first")
        text = client_final.decode("utf-8", "replace")
        without_proof, _, proof_part = text.rpartition(",p=")
        attrs = _attributes(without_proof) if without_proof else {}
        if attrs.get("r") != self._combined_nonce or attrs.get("c") != "biws":
            raise SaslError("SCRAM client-final message has a wrong nonce or channel binding")
        auth = f"{self._auth_prefix},{without_proof}".encode()
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise SaslError("SCRAM proof is not base64") from None
        signature = _hmac(self._name, credential.stored_key, auth)
        if len(proof) != len(signature):
            raise SaslError(f"authentication failed for user {self.username!r}")
        client_key = _xor(proof, signature)
        stored = hashlib.new(self._name, client_key).digest()
        if not (hmac.compare_digest(stored, credential.stored_key) and self._known):
            raise SaslError(f"authentication failed for user {self.username!r}")
        return f"v={base64.b64encode(_hmac(self._name, credential.server_key, auth)).decode()}".encode()


def format_entry(username: str, credential: ScramCredential) -> str:
    """One line of a credentials file (the format Kafka's kafka-configs prints, plus user and mechanism)."""
    b64 = base64.b64encode
    return (f"{username} {credential.mechanism} salt={b64(credential.salt).decode()},"
            f"stored_key={b64(credential.stored_key).decode()},server_key={b64(credential.server_key).decode()},"
            f"iterations={credential.iterations}")


def parse_entry(line: str) -> tuple[str, ScramCredential]:
    """Inverse of `format_entry`; SaslError naming what is wrong (never the secret material)."""
    try:
        username, mechanism, fields = line.split(" ", 2)
        _h(mechanism)
        values = dict(item.split("=", 1) for item in fields.strip().split(","))
        b64 = base64.b64decode
        return username, ScramCredential(mechanism, b64(values["salt"]), int(values["iterations"]),
                                         b64(values["stored_key"]), b64(values["server_key"]))
    except (ValueError, KeyError) as exc:
        raise SaslError(f"malformed credential entry: {type(exc).__name__}") from None
