"""A file the proxy parses at start and re-reads when it changes: credentials, JWKS keys.

Rotation without a restart: `refresh()` compares the file's mtime and size with the last read (one
stat per login, not per request) and parses it again only when they differ. A changed file that
does not parse keeps the previous contents and says why in `reload_error` (the caller logs it);
at start a bad file is an error, so a wrong path or format stops the proxy before it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class WatchedFile(Generic[T]):
    """`parse(text, path)` raises `unreadable` (with a message naming the file) for a bad file."""

    def __init__(self, path: str, parse: Callable[[str, str], T], unreadable: type[Exception]) -> None:
        self.path = path
        self._parse, self._unreadable = parse, unreadable
        self._stamp: tuple[int, int] | None = None
        self.reload_error = ""  # why the newest file was not taken
        self.contents: T = self._load()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = Path(self.path).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load(self) -> T:
        """The parsed file, its stamp taken first (a change while reading shows at the next refresh)."""
        stamp = self._file_stamp()
        try:
            contents = self._parse(Path(self.path).read_text(encoding="utf-8"), self.path)
        except (OSError, UnicodeDecodeError) as exc:
            raise self._unreadable(f"{self.path}: {type(exc).__name__}") from None
        self._stamp = stamp
        return contents

    def changed(self) -> bool:
        """Whether the file's mtime or size differ from the last read (one stat)."""
        return self._file_stamp() != self._stamp

    def refresh(self) -> bool:
        """Re-read the file if it changed; False when a change could not be taken (old contents kept)."""
        if not self.changed():
            return True
        try:
            self.contents, self.reload_error = self._load(), ""
        except self._unreadable as exc:
            self._stamp, self.reload_error = self._file_stamp(), str(exc)
            return False
        return True
