"""What the admin API may ask of the proxy: status, readiness, fences and switches.

The admin layer only knows the `ProxyControl` protocol; this class binds it to the running proxy
and, for switches, to the executor that drives the pure switch state machine.
"""

from __future__ import annotations

from typing import Any

from proxy.admin import SwitchRejected
from proxy.context import ProxyContext


class Control:
    """The running proxy as seen by the admin API."""

    def __init__(self, context: ProxyContext) -> None:
        self.context = context

    def status(self) -> dict[str, Any]:
        return self.context.status()

    def is_ready(self) -> bool:
        return self.context.is_ready()

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float) -> str:
        raise SwitchRejected("switching is not implemented yet")

    def switch_record(self, switch_id: str) -> dict[str, Any] | None:
        return None

    def fence(self) -> dict[str, Any]:
        raise SwitchRejected("fencing is not implemented yet")

    def unfence(self) -> dict[str, Any]:
        raise SwitchRejected("fencing is not implemented yet")

    async def close(self) -> None:
        return None
