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

from pathlib import Path

from proxy.sasl.scram import HASHES, SaslError, ScramCredential, parse_entry
from proxy.sasl.settings import ListenerSasl


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


class CredentialsFile:
    """The entries of one file, re-read on change; `lookup` is what `ScramServer` asks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[tuple[str, str], ScramCredential] = {}
        self.reload_error = ""  # why the newest file was not taken (shown in logs by the caller)
        self._read(raise_errors=True)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = Path(self.path).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _read(self, raise_errors: bool = False) -> bool:
        stamp = self._file_stamp()
        try:
            text = Path(self.path).read_text(encoding="utf-8")
            entries = parse_credentials(text, self.path)
        except (OSError, UnicodeDecodeError, CredentialsUnreadable) as exc:
            message = str(exc) if isinstance(exc, CredentialsUnreadable) else f"{self.path}: {type(exc).__name__}"
            if raise_errors:
                raise CredentialsUnreadable(message) from None
            self._stamp, self.reload_error = stamp, message
            return False
        self._stamp, self._entries, self.reload_error = stamp, entries, ""
        return True

    def refresh(self) -> bool:
        """Re-read the file if it changed; False when a change could not be taken (old entries kept)."""
        if self._file_stamp() == self._stamp:
            return True
        return self._read()

    @property
    def users(self) -> set[str]:
        return {user for user, _mechanism in self._entries}

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        return self._entries.get((user, mechanism))

    def any_entry(self, user: str) -> ScramCredential | None:
        """The entry a PLAIN password is checked against: the strongest SCRAM entry the user has."""
        for mechanism in sorted(HASHES, reverse=True):  # SCRAM-SHA-512 before SCRAM-SHA-256
            found = self._entries.get((user, mechanism))
            if found is not None:
                return found
        return None


def listener_credentials(sasl: ListenerSasl | None, error: type[Exception]) -> CredentialsFile | None:
    """A terminating listener's file, read now (start, check-config): a bad one raises
    `error(path, message)`, the config's ConfigError (kept out of this module's imports)."""
    if sasl is None or not sasl.terminates or sasl.credentials_file is None:
        return None
    try:
        return CredentialsFile(sasl.credentials_file)
    except CredentialsUnreadable as exc:
        raise error("listeners.sasl.credentials_file", str(exc)) from None
