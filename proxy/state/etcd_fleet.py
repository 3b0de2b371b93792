"""Fleet membership on etcd: each instance registers under its own lease and renews it.

`<prefix>/instances/<instance id>` holds what an operator needs to find the instance (its bootstrap
address, admin URL, the active cluster and epoch it routes by); the key disappears with the lease
when the instance stops renewing, which is how the others know it cannot still be writing. The
renewal loop feeds a `LeaseClock`, whose verdicts (LOST, REGAINED) the executor turns into the
fail-closed fence.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.log import state as log
from proxy.state.etcd_store import EtcdStateStore, _b64, _prefix_end, _unb64
from proxy.state.lease_clock import LeaseClock, Verdict
from proxy.state.store import StateStoreError


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


class EtcdFleet:
    def __init__(self, store: EtcdStateStore, instance_id: str, ttl_s: float,
                 describe: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.describe = describe
        self.instance_id = instance_id
        self.ttl_s = ttl_s
        self.key = f"{store.prefix}/instances/{instance_id}"
        self.members_prefix = f"{store.prefix}/instances/"
        self.lease: str | None = None
        self.clock = LeaseClock(round(ttl_s * 1000), _now_ms())
        self.info: dict[str, Any] = {}
        self.view: list[dict[str, Any]] = []
        """The members as last read (for /v1/status, which must not wait on etcd)."""

    async def join(self) -> None:
        """Grant a lease and register under it (raises StateStoreError when etcd is unreachable)."""
        granted = await self.store.call("/v3/lease/grant", {"TTL": str(max(1, round(self.ttl_s)))})
        self.lease = str(granted["ID"])
        await self.publish()
        self.clock.renewed(_now_ms())
        self.view = await self.members()

    async def publish(self) -> None:
        self.info = {"instance": self.instance_id, **self.describe()}
        await self.store.call("/v3/kv/put", {"key": _b64(self.key), "value": _b64(json.dumps(self.info)),
                                             "lease": self.lease})

    async def members(self) -> list[dict[str, Any]]:
        answer = await self.store.call("/v3/kv/range", {"key": _b64(self.members_prefix),
                                                         "range_end": _prefix_end(self.members_prefix)})
        out = []
        for kv in answer.get("kvs", []):
            try:
                out.append(json.loads(_unb64(kv.get("value", ""))))
            except ValueError:
                out.append({"instance": _unb64(kv["key"]).decode()[len(self.members_prefix):], "error": "unreadable"})
        return out

    async def keep_alive(self, on_verdict: Callable[[Verdict], Awaitable[bool]]) -> None:
        """Renew every third of the TTL; re-register when the lease expired meanwhile.

        `on_verdict` answers False to a REGAINED it could not act on (the state could not be read
        again): the view then still counts as lost, and the next renewal reports REGAINED again."""
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                answer = await self.store.call("/v3/lease/keepalive", {"ID": self.lease})
                if int(answer.get("result", {}).get("TTL", 0)) <= 0:  # expired: the others saw us leave
                    log.warning("lease of %s expired; registering again", self.instance_id)
                    await self.join()
                elif {"instance": self.instance_id, **self.describe()} != self.info:
                    await self.publish()
                verdict = self.clock.renewed(_now_ms())
                self.view = await self.members()
            except (StateStoreError, KeyError, ValueError) as exc:
                log.warning("lease renewal of %s failed: %s", self.instance_id, exc)
                verdict = self.clock.tick(_now_ms())
            if verdict != Verdict.UNCHANGED and not await on_verdict(verdict) and verdict == Verdict.REGAINED:
                self.clock.lost = True

    async def leave(self) -> None:
        if self.lease is not None:
            try:
                await self.store.call("/v3/lease/revoke", {"ID": self.lease})
            except StateStoreError as exc:
                log.warning("could not revoke the lease of %s: %s", self.instance_id, exc)
            self.lease = None
