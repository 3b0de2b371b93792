"""Every logger of the proxy, in one place, and the one function that configures them.

Modules import the logger they need (`from proxy.log import connection as log`), so log names stay
stable for operators filtering them and nothing else calls `logging.getLogger`.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

proxy = logging.getLogger("kfp")
connection = logging.getLogger("kfp.connection")
admin = logging.getLogger("kfp.admin")
switch = logging.getLogger("kfp.switch")
upstream = logging.getLogger("kfp.upstream")
audit = logging.getLogger("kfp.audit")
state = logging.getLogger("kfp.state")

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is worth emitting.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return jsonlib.dumps(entry, default=str)


class _ProxyHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we installed, so configuring twice replaces it instead of doubling output."""


def configure_logging(level: str = "INFO", json: bool = False, stream: TextIO | None = None) -> None:
    """Send the proxy's logs (and aiohttp's) to `stream` (stderr) as text or JSON lines."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ProxyHandler)]:
        root.removeHandler(handler)
    handler = _ProxyHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
