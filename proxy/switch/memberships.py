"""Which consumer instances a fetch hold waits for, told apart without trusting client.id alone.

After the flip a consumer must rejoin its group on the target before it fetches, or it reads the
target at the source's positions. Its fetches and its group requests travel on different
connections (leaders vs coordinator), and every connection is new after the flip, so neither a
connection nor a client.id identifies it: library defaults repeat client ids (every librdkafka
client is `rdkafka` unless set), and one consumer's rejoin must not release another's fetches.

So an instance is known by its `ClientKey` (peer host, client.id) together with the member ids it
used in each group. A hold waits, per key, for as many distinct members to rejoin each of its
groups as that key had there before the flip; two default-named consumers of different groups on
one host stay held until both groups saw a rejoin. Members not seen for `stale_after_s` are
forgotten (they left; counting them would hold the others until the hold times out), which also
bounds the bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ClientKey = tuple[str, str]
"""(peer host, client.id) of the connections one consumer instance opens."""


@dataclass(slots=True)
class _Pending:
    needed: dict[str, int]
    rejoined: dict[str, set[str]] = field(default_factory=dict)


class Memberships:
    """Group members seen per client key, and the hold that waits for their rejoin."""

    __slots__ = ("_held", "_seen", "stale_after_s")

    def __init__(self, stale_after_s: float = 300.0) -> None:
        self.stale_after_s = stale_after_s
        self._seen: dict[ClientKey, dict[str, dict[str, float]]] = {}
        self._held: dict[ClientKey, _Pending] = {}

    def seen(self, key: ClientKey, group: str, member_id: str, now: float) -> None:
        """A group request from `key` for `group` (member_id "" before the coordinator gave one)."""
        members = self._seen.setdefault(key, {}).setdefault(group, {})
        members[member_id or "?"] = now
        if member_id:
            members.pop("?", None)

    def groups(self) -> set[str]:
        """Every group some client of this proxy is a member of: only these can rejoin through it."""
        return {group for groups in self._seen.values() for group in groups}

    def hold(self, now: float) -> None:
        """Hold every key that has a live member somewhere, until each of its groups saw as many
        distinct members rejoin as it had there."""
        self._forget_stale(now)
        self._held = {key: _Pending({group: len(members) for group, members in groups.items()})
                      for key, groups in self._seen.items() if groups}

    def release(self) -> None:
        self._held.clear()

    def held(self, key: ClientKey) -> bool:
        return key in self._held

    def held_keys(self) -> list[str]:
        return sorted(f"{host} {client_id}" for host, client_id in self._held)

    def rejoined(self, key: ClientKey, group: str, member_id: str) -> bool:
        """A member of `key` completed a join of `group` on the target; True when it is a new one."""
        pending = self._held.get(key)
        if pending is None or group not in pending.needed:
            return False
        members = pending.rejoined.setdefault(group, set())
        if member_id in members:
            return False
        members.add(member_id)
        if len(members) >= pending.needed[group]:
            del pending.needed[group]
        if not pending.needed:
            del self._held[key]
        return True

    def size(self) -> int:
        """Members remembered, over every key and group (bookkeeping that must not grow forever)."""
        return sum(len(members) for groups in self._seen.values() for members in groups.values())

    def _forget_stale(self, now: float) -> None:
        for key in list(self._seen):
            groups = self._seen[key]
            for group in list(groups):
                fresh = {m: t for m, t in groups[group].items() if now - t <= self.stale_after_s}
                if fresh:
                    groups[group] = fresh
                else:
                    del groups[group]
            if not groups:
                del self._seen[key]

    def prune(self, now: float) -> None:
        """Forget members not seen for `stale_after_s` (called on every hold and now and then)."""
        self._forget_stale(now)
