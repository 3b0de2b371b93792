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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from proxy.log import state as log
from proxy.state.etcd_store import EtcdStateStore, b64, prefix_end, unb64
from proxy.state.lease_clock import LeaseClock, Verdict
from proxy.state.store import StateStoreError

FAIL_CLOSED_AFTER = 2 / 3
"""Of the lease TTL: fence before etcd can expire the lease, since the others stop waiting for this
instance the moment it does (the instance's clock starts when a renewal's answer arrives, later than
etcd's, so a full TTL here would leave a window where it still writes unwaited-for)."""


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
        self.clock = LeaseClock(round(ttl_s * 1000 * FAIL_CLOSED_AFTER), _now_ms())
        self.info: dict[str, Any] = {}
        self._announcing = asyncio.Lock()  # intents land in the order they were announced
        self.view: list[dict[str, Any]] = []
        """The members as last read (for /v1/status, which must not wait on etcd)."""

    async def join(self) -> None:
        """Grant a lease and register under it (raises StateStoreError when etcd is unreachable).

        Leaves the lease clock alone: after an expired lease, the renewal loop's own `renewed` must be
        the one that reports REGAINED, or the fail-closed fence would never be lifted."""
        granted = await self.store.call("/v3/lease/grant", {"TTL": str(max(1, round(self.ttl_s)))})
        self.lease = str(granted["ID"])
        await self.publish()
        self.view = await self.members()

    async def publish(self) -> None:
        self.info = {"instance": self.instance_id, **self.describe()}
        await self.store.call("/v3/kv/put", {"key": b64(self.key), "value": b64(json.dumps(self.info)),
                                             "lease": self.lease})

    async def members(self) -> list[dict[str, Any]]:
        answer = await self.store.call("/v3/kv/range", {"key": b64(self.members_prefix),
                                                         "range_end": prefix_end(self.members_prefix)})
        out = []
        for kv in answer.get("kvs", []):
            try:
                out.append(json.loads(unb64(kv.get("value", ""))))
            except ValueError:
                out.append({"instance": unb64(kv["key"]).decode()[len(self.members_prefix):], "error": "unreadable"})
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

    # -- one switch across the fleet ---------------------------------------------------------------------

    @property
    def intent_key(self) -> str:
        return f"{self.store.prefix}/switch"

    async def announce(self, intent: dict[str, Any]) -> None:
        """The switch this instance leads: `phase` fence (followers fence and drain), then its outcome."""
        async with self._announcing:
            await self.store.put_json(self.intent_key, {**intent, "leader": self.instance_id})

    async def ack_drained(self, switch_id: str, evidence: dict[str, Any]) -> None:
        """This follower is fenced and has nothing in flight to the source (tied to its lease)."""
        await self.store.put_json(f"{self.store.prefix}/drained/{switch_id}/{self.instance_id}", evidence, self.lease)

    async def not_drained(self, switch_id: str) -> list[str]:
        """Registered instances other than this one that have not acknowledged the drain yet; an
        instance whose lease expired is no longer registered, so it is not waited for."""
        acked_prefix = f"{self.store.prefix}/drained/{switch_id}/"
        answer = await self.store.call("/v3/kv/range", {
            "key": b64(acked_prefix), "range_end": prefix_end(acked_prefix), "keys_only": True})
        acked = {unb64(kv["key"]).decode()[len(acked_prefix):] for kv in answer.get("kvs", [])}
        members = {m.get("instance") for m in await self.members()}
        return sorted(str(m) for m in members - acked - {self.instance_id})

    async def intents(self) -> AsyncIterator[dict[str, Any]]:
        """The switch intent now and at every change; reconnects when the stream drops."""
        while True:
            try:
                intent, revision = await self.store.get_json(self.intent_key)
                if isinstance(intent, dict):
                    yield intent
                async for value in self.store.stream_key(self.intent_key, int(revision or 0) + 1):
                    decoded = json.loads(unb64(value))
                    if isinstance(decoded, dict):
                        yield decoded
            except (StateStoreError, ValueError) as exc:
                log.warning("watch of the switch intent interrupted: %s", exc)
            await asyncio.sleep(1.0)
