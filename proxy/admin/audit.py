"""The audit log: one JSON line per admin action, appended and flushed as it happens.

An operator reconstructing an incident needs who asked for what, and what the proxy answered, even
for refused calls. Writing the audit line must never turn an admin action into an error, so failures
to write are logged and swallowed. Lines also go to the `kfp.audit` logger, which is the only record
when no file is configured.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from proxy.log import audit as log


class AuditLog:
    """Appends audit entries to `path` (JSON lines), or only logs them when `path` is None.

    Every entry names the proxy `instance` that acted (its advertised bootstrap address once the
    listeners are bound), so the audit lines of a fleet can be merged and still say who did what.
    """

    def __init__(self, path: str | None, instance: str | None = None) -> None:
        self.path = path
        self.instance = instance

    def record(self, caller: str, action: str, parameters: dict[str, Any], outcome: str,
               evidence: dict[str, Any] | None = None) -> None:
        """Write one entry; never raises."""
        try:
            line = self._line(self.instance, caller, action, parameters, outcome, evidence)
        except Exception:
            log.exception("could not serialise audit entry for %s by %s", action, caller)
            return
        log.info("%s", line)
        if self.path is not None:
            self._append(self.path, line)

    @staticmethod
    def _line(instance: str | None, caller: str, action: str, parameters: dict[str, Any], outcome: str,
              evidence: dict[str, Any] | None) -> str:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "instance": instance,
            "caller": caller,
            "action": action,
            "parameters": parameters,
            "outcome": outcome,
            "evidence": evidence,
        }
        return json.dumps(entry, default=str, sort_keys=False)

    @staticmethod
    def _append(path: str, line: str) -> None:
        # Opened per entry: admin actions are rare, and this survives log rotation without a signal.
        try:
            with open(path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
        except OSError as exc:
            log.error("could not append to audit log %s: %s", path, exc)
