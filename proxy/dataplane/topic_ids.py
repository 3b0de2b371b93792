"""Virtual topic ids: one id per topic name, whichever cluster is active.

Why: A and B give the same topic different ids (MM2 creates B's copy). A client that cached A's id
(franz-go, Java's Produce v13 and Fetch v13+) would get UNKNOWN_TOPIC_ID from B forever, or see the
switch as a delete-and-recreate. So clients only ever see virtual ids.

The virtual id is uuid5(namespace, virtual cluster id + NUL + topic name): a pure function, so every
proxy of a fleet, a restarted proxy and an emergency switch with A gone agree on it without any
stored state. What that costs: ids are patched on the hot path while A is active too (16 bytes per
topic, in place), and a topic deleted and created again under the same name keeps its virtual id
(what clients that use names saw before KIP-516; the proxy hides leader epochs anyway).

Per upstream cluster, `ClusterTopicIds` maps real <-> virtual. Its entries come from that cluster's
metadata (the monitor polls every topic) and from every response that names a topic beside its id
(Metadata, DescribeTopicPartitions, CreateTopics), so a client can only hold a virtual id whose real
id the proxy learnt first. An id nobody knows maps to itself: a virtual id the active cluster does not
have reaches the broker unchanged and gets the broker's own UNKNOWN_TOPIC_ID, echoed back as the id
the client sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

ZERO = bytes(16)
_NAMESPACE = uuid.UUID("6f1c3c3e-5d2a-5b57-9a0e-6b6166702d69")  # fixed forever: ids depend on it


def virtual_topic_id(virtual_cluster_id: str, topic: str) -> bytes:
    """The 16 bytes every client sees as the id of `topic` on this virtual cluster."""
    return uuid.uuid5(_NAMESPACE, f"{virtual_cluster_id}\0{topic}").bytes


class IdTable(dict[bytes, bytes]):
    """16-byte id -> 16-byte id; an unknown id maps to itself and is reported to `on_miss`."""

    __slots__ = ("on_miss",)

    def __init__(self) -> None:
        super().__init__()
        self.on_miss: Callable[[bytes], None] | None = None

    def __missing__(self, raw: bytes) -> bytes:
        if self.on_miss is not None and raw != ZERO:
            self.on_miss(raw)
        return raw


class ClusterTopicIds:
    """Real <-> virtual topic ids of one upstream cluster."""

    __slots__ = ("_names", "to_real", "to_virtual", "virtual_cluster_id")

    def __init__(self, virtual_cluster_id: str) -> None:
        self.virtual_cluster_id = virtual_cluster_id
        self.to_virtual = IdTable()
        self.to_real = IdTable()
        self._names: dict[str, bytes] = {}  # name -> virtual id (uuid5 is ~1 us; names repeat)

    def learn(self, name: str, real: bytes) -> bytes:
        """Record that `name` has id `real` on this cluster; return its virtual id."""
        virtual = self._names.get(name)
        if virtual is None:
            virtual = self._names[name] = virtual_topic_id(self.virtual_cluster_id, name)
        if real != ZERO and self.to_virtual.get(real) != virtual:
            self.to_virtual[real] = virtual
            self.to_real[virtual] = real  # a recreated topic: the new real id wins
        return virtual

    def learn_all(self, topics: Mapping[str, bytes]) -> None:
        for name, real in topics.items():
            self.learn(name, real)

    def virtual(self, name: str) -> bytes:
        """The virtual id of `name` (whether or not this cluster has the topic)."""
        virtual = self._names.get(name)
        return virtual if virtual is not None else virtual_topic_id(self.virtual_cluster_id, name)

    def __len__(self) -> int:
        return len(self.to_virtual)
