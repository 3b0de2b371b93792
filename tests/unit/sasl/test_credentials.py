"""The terminating listener's credentials file: parsed per line, re-read on change, old entries
kept when a new file is broken, and PLAIN and SCRAM logins checked against it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.sasl.authenticators import ClientAuthenticators
from proxy.sasl.credentials import CredentialsFile, CredentialsUnreadable, parse_credentials
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import SaslError, format_entry, make_credential
from proxy.sasl.server_login import ServerLogin


def entry(user: str, password: str, mechanism: str = "SCRAM-SHA-512") -> str:
    return format_entry(user, make_credential(mechanism, password)) + "\n"


def rewrite(path: Path, text: str) -> None:
    """New content with a new mtime (a coarse filesystem clock would hide a quick rewrite)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def log_in(credentials: CredentialsFile, mechanism: str, user: str, password: str) -> str:
    server, client = ServerLogin(mechanism, ClientAuthenticators(credentials)), ClientLogin(mechanism, user, password)
    token: bytes | None = client.first()
    while token is not None:
        answer, complete = server.respond(token)
        token = client.respond(answer)
        assert complete == (token is None)
    return server.principal


def test_blank_lines_and_comments_are_skipped_and_a_bad_line_is_named_without_its_content() -> None:
    good = entry("alice", "pw")
    assert set(parse_credentials(f"# users\n\n{good}", "f")) == {("alice", "SCRAM-SHA-512")}
    with pytest.raises(CredentialsUnreadable, match="f line 2") as caught:
        parse_credentials(f"{good}bob SCRAM-SHA-512 salt=secretish\n", "f")
    assert "secretish" not in str(caught.value)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_logins_succeed_with_the_password_and_fail_without(tmp_path: Path, mechanism: str) -> None:
    path = tmp_path / "users"
    path.write_text(entry("alice", "pw", "SCRAM-SHA-256") + entry("alice", "pw"))
    credentials = CredentialsFile(str(path))
    assert log_in(credentials, mechanism, "alice", "pw") == "alice"
    with pytest.raises(SaslError):
        log_in(credentials, mechanism, "alice", "wrong")


def test_an_added_principal_counts_from_the_next_login_and_a_broken_file_keeps_the_old(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(entry("alice", "pw"))
    credentials = CredentialsFile(str(path))
    assert credentials.users == {"alice"}
    rewrite(path, entry("alice", "pw") + entry("bob", "bob-pw"))
    assert credentials.refresh() and credentials.users == {"alice", "bob"}
    rewrite(path, "garbage\n")
    assert not credentials.refresh()
    assert credentials.users == {"alice", "bob"} and "line 1" in credentials.reload_error


def test_a_missing_file_at_start_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CredentialsUnreadable, match="users"):
        CredentialsFile(str(tmp_path / "users"))
