"""The terminating listener's users: a file of salted SCRAM entries, re-read when it changes.

One line per user and mechanism, exactly as `kafka-failover-proxy scram-credential` prints it
(`alice SCRAM-SHA-512 salt=...,stored_key=...,server_key=...,iterations=4096`); blank lines and
lines starting with `#` are skipped. The file holds no password: a PLAIN login is checked by
salting the given password with one of the user's SCRAM entries (`plain.verify`).

Rotation: every lookup compares the file's mtime and size with the last read (one stat per
login, not per request), so an added principal or a changed password counts from the next login
on; sessions already logged in stay. A new file that does not parse keeps the previous entries
and says which line is wrong (never what is on it).
"""

from __future__ import annotations

from proxy.sasl.scram import HASHES, SaslError, ScramCredential, parse_entry
from proxy.sasl.watched_file import WatchedFile


class CredentialsUnreadable(Exception):
    """The credentials file cannot be read or parsed; the text names the file and line, no secret."""


def parse_credentials(text: str, source: str) -> dict[tuple[str, str], ScramCredential]:
    """(user, mechanism) -> entry; CredentialsUnreadable naming the first bad line."""
    entries: dict[tuple[str, str], ScramCredential] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            user, credential = parse_entry(line.strip())
        except SaslError as exc:
            raise CredentialsUnreadable(f"{source} line {number}: {exc}") from None
        entries[(user, credential.mechanism)] = credential
    return entries


class CredentialsFile(WatchedFile[dict[tuple[str, str], ScramCredential]]):
    """The entries of one file, re-read on change; `lookup` is what `ScramServer` asks."""

    def __init__(self, path: str) -> None:
        super().__init__(path, parse_credentials, CredentialsUnreadable)

    @property
    def users(self) -> set[str]:
        return {user for user, _mechanism in self.contents}

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        return self.contents.get((user, mechanism))

    def any_entry(self, user: str) -> ScramCredential | None:
        """The entry a PLAIN password is checked against: the strongest SCRAM entry the user has."""
        for mechanism in sorted(HASHES, reverse=True):  # SCRAM-SHA-512 before SCRAM-SHA-256
            found = self.contents.get((user, mechanism))
            if found is not None:
                return found
        return None

