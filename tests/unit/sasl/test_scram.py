"""SCRAM against RFC 7677's SCRAM-SHA-256 test vector, both sides, and the ways a login fails."""

from __future__ import annotations

import base64

import pytest

from proxy.sasl import plain
from proxy.sasl.scram import (
    SaslError,
    ScramClient,
    ScramServer,
    format_entry,
    make_credential,
    parse_entry,
)

CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_client_produces_rfc7677_messages() -> None:
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=CLIENT_NONCE)
    assert client.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert client.final(SERVER_FIRST) == CLIENT_FINAL
    client.verify(SERVER_FINAL)


def test_server_produces_rfc7677_messages_from_a_salted_entry_only() -> None:
    entry = make_credential("SCRAM-SHA-256", "pencil", salt=SALT, iterations=4096)
    server = ScramServer("SCRAM-SHA-256", {"user": entry}.get, nonce=SERVER_NONCE)
    assert server.first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == SERVER_FIRST
    assert server.final(CLIENT_FINAL) == SERVER_FINAL
    assert server.username == "user"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_client_and_server_agree_and_a_wrong_password_fails(mechanism: str) -> None:
    users = {"alice": make_credential(mechanism, "s3cret")}
    for password, ok in (("s3cret", True), ("wrong", False)):
        client, server = ScramClient(mechanism, "alice", password), ScramServer(mechanism, users.get)
        first = server.first(client.first())
        final = client.final(first)
        if ok:
            client.verify(server.final(final))
        else:
            with pytest.raises(SaslError, match="authentication failed for user 'alice'"):
                server.final(final)


def test_unknown_user_fails_like_a_wrong_password() -> None:
    server = ScramServer("SCRAM-SHA-512", {}.get)
    client = ScramClient("SCRAM-SHA-512", "mallory", "x")
    with pytest.raises(SaslError, match="authentication failed"):
        server.final(client.final(server.first(client.first())))


def test_client_rejects_a_server_that_does_not_hold_the_credential() -> None:
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=CLIENT_NONCE)
    client.final(SERVER_FIRST)
    with pytest.raises(SaslError, match="server signature"):
        client.verify(b"v=" + base64.b64encode(b"\0" * 32))


@pytest.mark.parametrize("garbage", [b"", b"p,,n=a,r=b", b"n,,x", b"n,,n=a"])
def test_malformed_client_first_is_a_sasl_error(garbage: bytes) -> None:
    with pytest.raises(SaslError):
        ScramServer("SCRAM-SHA-256", {}.get).first(garbage)


def test_credential_entry_round_trips_and_plain_checks_against_it() -> None:
    entry = make_credential("SCRAM-SHA-512", "pw")
    line = format_entry("bob", entry)
    assert "pw" not in line.split(" ", 2)[2].split(",")
    assert parse_entry(line) == ("bob", entry)
    assert plain.verify(entry, "pw") and not plain.verify(entry, "pW") and not plain.verify(None, "pw")
    assert plain.parse_token(plain.client_token("bob", "pw")) == ("bob", "pw")
    with pytest.raises(SaslError):
        plain.parse_token(b"bob")
