"""The principals clients logged in as through this proxy, for the governance gate (issue 12, item 6).

A switch to a B that lacks a principal's credential locks that principal's clients out. The gate
compares what A's ACLs and SCRAM users name; this set adds who actually logged in through the
proxy, so a principal no ACL on A names still counts. Two sources feed it:

- a terminating listener's gate (`SaslGate`): the user the proxy itself authenticated. The broker
  sees the proxy's service principal, so nothing per user is needed on B; it is listed only.
- a passthrough listener (`PassthroughLogins`): the user named in the client's first token, once
  the broker accepted the exchange, with the mechanism the broker checked. A SCRAM login is
  evidence that A holds that credential, which the gate uses when A's own list cannot be read.

Names and mechanisms only, never a token or a password. Bounded: at `cap` principals new ones are
dropped, counted and logged once; the set lives as long as the process (not in the durable switch
state: a restarted proxy learns them again from the next logins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.log import proxy as log
from proxy.sasl.first_token import SCRAM_MECHANISMS

DEFAULT_CAP = 10_000
SHOWN_IN_STATUS = 100


class SeenPrincipals:
    """principal (`User:alice`) -> the SCRAM mechanisms a broker accepted for it through the proxy."""

    __slots__ = ("_on_change", "_principals", "cap", "dropped")

    def __init__(self, cap: int = DEFAULT_CAP, on_change: Callable[[int, int], None] | None = None) -> None:
        self.cap = cap
        self.dropped = 0  # logins of new principals not kept because the set was full
        self._principals: dict[str, set[str]] = {}
        self._on_change = on_change  # (count, dropped): the metrics

    def __len__(self) -> int:
        return len(self._principals)

    def __contains__(self, principal: object) -> bool:
        return principal in self._principals

    def add(self, principal: str, broker_mechanism: str | None = None) -> bool:
        """Remember a login; `broker_mechanism` is the one a broker checked (passthrough). False when full."""
        mechanisms = self._principals.get(principal)
        if mechanisms is None:
            if len(self._principals) >= self.cap:
                self._drop(principal)
                return False
            mechanisms = self._principals[principal] = set()
            log.info("principal %s logged in through the proxy for the first time", principal)
        if broker_mechanism in SCRAM_MECHANISMS:
            mechanisms.add(broker_mechanism)
        self._changed()
        return True

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._principals))

    def scram_logins(self) -> dict[str, frozenset[str]]:
        """principal -> SCRAM mechanisms a broker accepted for it (passthrough logins only)."""
        return {p: frozenset(m) for p, m in sorted(self._principals.items()) if m}

    def status(self) -> dict[str, Any]:
        names = self.names()
        return {"count": len(names), "names": list(names[:SHOWN_IN_STATUS]),
                "truncated": len(names) > SHOWN_IN_STATUS, "cap": self.cap, "dropped": self.dropped}

    def _drop(self, principal: str) -> None:
        if not self.dropped:
            log.warning("more than %d principals logged in through the proxy: %s and later new ones are not "
                        "remembered, so the governance gate compares only the first %d", self.cap, principal,
                        self.cap)
        self.dropped += 1
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(len(self._principals), self.dropped)
