"""The JWKS file: public signature keys only, every mistake named at load time with the key's index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.oauth_tokens import SigningKey
from proxy.sasl.jwks import JwksFile, JwksUnreadable, parse_jwks

RSA = SigningKey.generate("rsa-1", "RS256")
EC = SigningKey.generate("ec-1", "ES256")


def document(*entries: dict[str, object]) -> str:
    return json.dumps({"keys": list(entries)})


def test_rsa_and_ec_keys_are_taken_with_the_algorithms_they_allow() -> None:
    unpinned = {key: value for key, value in RSA.jwk().items() if key != "alg"}
    keys = parse_jwks(document({**unpinned, "kid": "r"}, EC.jwk()), "jwks.json")
    assert [(key.kid, key.algorithms) for key in keys] == [
        ("r", ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")), ("ec-1", ("ES256",))]


def test_an_encryption_key_is_skipped() -> None:
    keys = parse_jwks(document({**EC.jwk(), "use": "enc", "kid": "e"}, RSA.jwk()), "jwks.json")
    assert [key.kid for key in keys] == ["rsa-1"]


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "jwks.json: not JSON"),
    ('["a list"]', 'expected a JWKS document {"keys": [...]}'),
    (document(), "no signature key"),
    (document({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}), "keys[0]: a symmetric (oct) key"),
    (document({**EC.jwk(), "alg": "RS256"}), "keys[0]: alg 'RS256' does not fit a EC key"),
    (document({"kty": "RSA", "n": "AQAB", "kid": "x"}), "keys[0]: not a valid RSA key"),
    (document({"kty": "EC", "crv": "P-192", "kid": "x"}), "keys[0]: unsupported key type 'EC'"),
    (document(RSA.jwk(), {**EC.jwk(), "kid": "rsa-1"}), "each needs its own kid"),
    (document(RSA.jwk(), "a string"), "keys[1]: expected a JSON object"),
    (document({**RSA.jwk(), "d": "AQAB"}), "keys[0]: holds a private key"),
], ids=["json", "shape", "empty", "symmetric", "alg-mismatch", "bad-rsa", "curve", "duplicate-kid", "not-object",
        "private"])
def test_a_bad_jwks_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(JwksUnreadable, match=re.escape(message)):
        parse_jwks(text, "jwks.json")


def test_a_missing_file_is_an_error_at_load(tmp_path: Path) -> None:
    with pytest.raises(JwksUnreadable, match="FileNotFoundError"):
        JwksFile(str(tmp_path / "absent.json"))


def test_a_token_without_a_kid_may_use_the_only_key(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(document({**RSA.jwk(), "kid": ""}))
    jwks = JwksFile(str(path))
    assert jwks.find("") is not None and jwks.find("other") is None
    path.write_text(document(RSA.jwk(), EC.jwk()))
    jwks.refresh()
    assert jwks.find("") is None and jwks.find("ec-1") is not None
