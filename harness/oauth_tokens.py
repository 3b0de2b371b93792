"""Signing keys made in the test run, for OAUTHBEARER: a JWKS document and the tokens it verifies.

A test plays the identity provider: it generates an RSA or EC key, writes the public half into a
JWKS file for the proxy, and signs tokens (JWTs) with the private half. Claims default to a token
valid for ten minutes from now; a test overrides any of them (or removes one with None).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER, AUDIENCE = "https://idp.test", "kafka"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str  # RS256 or ES256
    private: Any

    @classmethod
    def generate(cls, kid: str, alg: str = "RS256") -> SigningKey:
        if alg == "RS256":
            return cls(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if alg == "ES256":
            return cls(kid, alg, ec.generate_private_key(ec.SECP256R1()))
        raise ValueError(f"no test key for {alg}")

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWKS entry (with kid, use and alg, as providers publish them)."""
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        entry = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**entry, "kid": self.kid, "use": "sig", "alg": self.alg}

    def token(self, subject: str = "alice", lifetime_s: float = 600, **claims: Any) -> str:
        """A signed JWT for `subject`; `claims` adds or (with None) removes claims."""
        now = int(time.time())
        payload = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": int(now + lifetime_s),
                   **claims}
        payload = {key: value for key, value in payload.items() if value is not None}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers={"kid": self.kid})


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps({"keys": [key.jwk() for key in keys]}, indent=2))
    return path


def unsecured_token(subject: str, lifetime_s: float = 600) -> str:
    """An `alg: none` token as Kafka's unsecured OAUTHBEARER validator accepts it (passthrough tests)."""
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": int(now + lifetime_s)}, "", algorithm="none")


def unsecured_oauthbearer_overrides(listener: str = "sasl_plaintext") -> dict[str, str]:
    """Broker settings adding OAUTHBEARER to the harness's SASL listener with Kafka's default,
    unsecured validator (alg none tokens, for passthrough tests; never for production)."""
    module = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
    return {"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
            f"listener.name.{listener}.oauthbearer.sasl.jaas.config":
                f'{module} required unsecuredLoginStringClaim_sub="broker";'}
