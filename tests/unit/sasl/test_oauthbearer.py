"""OAUTHBEARER at the proxy: the RFC 7628 client initial response, and a token checked against a
JWKS file by signature, lifetime, issuer, audience and key id; each refusal with its reason.

The identity provider is the test: it generates RSA and EC keys, writes their public halves into a
JWKS file and signs tokens (harness.oauth_tokens).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from harness.oauth_tokens import AUDIENCE, ISSUER, SigningKey, write_jwks
from proxy.sasl.authenticators import ClientAuthenticators
from proxy.sasl.jwks import JwksFile
from proxy.sasl.jwt_validator import TokenRejected, TokenValidator
from proxy.sasl.oauthbearer import ERROR_CHALLENGE, client_initial_response, parse_initial_response
from proxy.sasl.scram import SaslAuthenticationFailed, SaslError
from proxy.sasl.server_login import ServerLogin
from proxy.sasl.settings import OAuthBearerSettings

RSA = SigningKey.generate("rsa-1", "RS256")
EC = SigningKey.generate("ec-1", "ES256")


def validator(tmp_path: Path, *keys: SigningKey, **settings: object) -> TokenValidator:
    jwks = write_jwks(tmp_path / "jwks.json", *(keys or (RSA, EC)))
    options = {"issuer": ISSUER, "audience": AUDIENCE, **settings}
    return TokenValidator(OAuthBearerSettings(str(jwks), **options))  # type: ignore[arg-type]


def rejection(tokens: TokenValidator, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        tokens.principal(token)
    return str(caught.value)


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
def test_a_valid_token_names_its_subject_as_the_principal(tmp_path: Path, key: SigningKey) -> None:
    assert validator(tmp_path).principal(key.token("alice")) == "alice"


def test_the_principal_comes_from_the_configured_claim(tmp_path: Path) -> None:
    tokens = validator(tmp_path, principal_claim="preferred_username")
    assert tokens.principal(RSA.token("0f3a-uuid", preferred_username="alice")) == "alice"
    assert "'preferred_username' is missing" in rejection(tokens, RSA.token("0f3a-uuid"))


@pytest.mark.parametrize(("make_token", "reason"), [  # tokens made when the test runs: they expire
    (lambda: RSA.token(lifetime_s=-120), "expired (exp)"),
    (lambda: RSA.token(nbf=10 ** 10), "not valid yet (nbf)"),
    (lambda: RSA.token(iss="https://elsewhere.test"), "wrong issuer (iss)"),
    (lambda: RSA.token(aud="another-service"), "wrong audience (aud)"),
    (lambda: RSA.token(exp=None), "required claim"),
    (lambda: RSA.token(iss=None), "required claim"),
    (lambda: SigningKey("rsa-1", "RS256", SigningKey.generate("x").private).token(), "signature does not verify"),
    (lambda: SigningKey.generate("rsa-9").token(), "no key with kid 'rsa-9'"),
    (lambda: SigningKey("ec-1", "RS256", RSA.private).token(), "algorithm 'RS256' is not allowed for key 'ec-1'"),
    (lambda: jwt.encode({"sub": "alice", "exp": 10 ** 10}, "", algorithm="none", headers={"kid": "rsa-1"}),
     "algorithm 'none' is not allowed"),
    (lambda: jwt.encode({"sub": "alice", "exp": 10 ** 10}, "secret-of-32-bytes-at-the-least!", algorithm="HS256",
                        headers={"kid": "rsa-1"}), "algorithm 'HS256' is not allowed"),
    (lambda: "not-a-jwt", "not a well-formed JWT"),
    (lambda: RSA.token()[:-10], "signature does not verify"),
], ids=["expired", "not-yet", "issuer", "audience", "no-exp", "no-iss", "wrong-signature", "unknown-kid",
        "alg-confusion", "alg-none", "hmac", "garbage", "truncated"])
def test_a_bad_token_is_rejected_with_the_check_that_failed(tmp_path: Path, make_token: Callable[[], str],
                                                            reason: str) -> None:
    assert reason in rejection(validator(tmp_path), make_token())


def test_a_small_clock_skew_is_tolerated_and_no_more(tmp_path: Path) -> None:
    tokens = validator(tmp_path, clock_skew_s=30)
    assert tokens.principal(RSA.token(lifetime_s=-10)) == "alice"
    assert "expired" in rejection(tokens, RSA.token(lifetime_s=-60))


def test_issuer_and_audience_are_checked_only_when_configured(tmp_path: Path) -> None:
    tokens = validator(tmp_path, issuer=None, audience=None)
    assert tokens.principal(RSA.token(iss="https://any.test", aud="anything")) == "alice"


def test_a_rotated_key_counts_from_the_next_login_without_a_restart(tmp_path: Path) -> None:
    tokens = validator(tmp_path, RSA)
    rotated = SigningKey.generate("rsa-2", "RS256")
    assert "no key with kid 'rsa-2'" in rejection(tokens, rotated.token())
    write_jwks(Path(tokens.settings.jwks_file), rotated)
    os.utime(tokens.settings.jwks_file, ns=(1, 1))  # a new mtime even within the clock's resolution
    assert tokens.principal(rotated.token("bob")) == "bob"
    assert "no key with kid 'rsa-1'" in rejection(tokens, RSA.token())


def test_a_broken_new_jwks_keeps_the_previous_keys_and_says_why(tmp_path: Path) -> None:
    tokens = validator(tmp_path, RSA)
    Path(tokens.settings.jwks_file).write_text('{"keys": [')
    assert tokens.principal(RSA.token()) == "alice"
    assert "not JSON" in tokens.jwks.reload_error


# -- the RFC 7628 message ------------------------------------------------------------------------------

def test_the_client_initial_response_carries_the_token_and_authzid() -> None:
    message = client_initial_response("a.b.c", authzid="al,ice", extensions={"traceId": "42"})
    assert message == b"n,a=al=2Cice,\x01traceId=42\x01auth=Bearer a.b.c\x01\x01"
    assert parse_initial_response(message) == ("a.b.c", "al,ice")
    assert parse_initial_response(b"n,,\x01auth=bearer  a.b.c\x01\x01") == ("a.b.c", "")


@pytest.mark.parametrize("message", [
    b"", b"garbage", b"p=tls-unique,,\x01auth=Bearer a.b.c\x01\x01", b"n,\x01auth=Bearer a.b.c\x01\x01",
    b"n,,\x01auth=Bearer a.b.c\x01", b"n,,\x01auth=Basic YWxpY2U6cHc=\x01\x01", b"n,,\x01\x01",
    b"n,,\x01auth=Bearer a b\x01\x01", b"n,,auth=Bearer a.b.c\x01\x01",
], ids=["empty", "garbage", "channel-binding", "short-gs2", "no-final-kvsep", "basic", "no-auth", "space",
        "no-kvsep-after-gs2"])
def test_a_malformed_initial_response_is_refused(message: bytes) -> None:
    with pytest.raises(SaslError):
        parse_initial_response(message)


# -- the exchange, as the gate drives it -------------------------------------------------------------------

def oauth_login(tmp_path: Path) -> ServerLogin:
    return ServerLogin("OAUTHBEARER", ClientAuthenticators(tokens=validator(tmp_path)))


def test_a_good_token_completes_in_one_round_with_an_empty_answer(tmp_path: Path) -> None:
    login = oauth_login(tmp_path)
    assert login.respond(client_initial_response(EC.token("svc-orders"))) == (b"", True)
    assert login.principal == "svc-orders"


def test_a_bad_token_gets_the_error_challenge_then_a_failure_that_says_why(tmp_path: Path) -> None:
    login = oauth_login(tmp_path)
    answer, complete = login.respond(client_initial_response(RSA.token(lifetime_s=-300)))
    assert (json.loads(answer), complete) == ({"status": "invalid_token"}, False) and answer == ERROR_CHALLENGE
    with pytest.raises(SaslAuthenticationFailed, match="invalid_token: the token has expired"):
        login.respond(b"\x01")
    assert login.principal == ""


def test_an_authzid_must_be_the_token_s_principal(tmp_path: Path) -> None:
    with pytest.raises(SaslAuthenticationFailed, match="authorization id 'admin'"):
        oauth_login(tmp_path).respond(client_initial_response(RSA.token("alice"), authzid="admin"))
    login = oauth_login(tmp_path)
    assert login.respond(client_initial_response(RSA.token("alice"), authzid="alice")) == (b"", True)


def test_a_lone_kvsep_without_an_error_is_a_malformed_exchange(tmp_path: Path) -> None:
    with pytest.raises(SaslError, match="without an error"):
        oauth_login(tmp_path).respond(b"\x01")


def test_oauthbearer_is_unsupported_where_no_jwks_is_configured() -> None:
    with pytest.raises(SaslError, match="unsupported mechanism"):
        ServerLogin("OAUTHBEARER", ClientAuthenticators())


def test_a_token_validator_can_share_a_jwks_file(tmp_path: Path) -> None:
    jwks = JwksFile(str(write_jwks(tmp_path / "keys.json", EC)))
    assert TokenValidator(OAuthBearerSettings(jwks.path), jwks).principal(EC.token()) == "alice"


def test_a_broken_new_jwks_is_logged_once_when_a_login_reads_it(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    tokens = validator(tmp_path, RSA)
    authenticators = ClientAuthenticators(tokens=tokens)
    Path(tokens.settings.jwks_file).write_text('{"keys": "none"}')
    authenticators.refresh()
    authenticators.refresh()
    assert [r.getMessage() for r in caplog.records].count(
        f'kept the previous contents of a changed file: {tokens.settings.jwks_file}: '
        'expected a JWKS document {"keys": [...]}') == 1
    assert tokens.principal(RSA.token()) == "alice"
