"""The virtual cluster clients see: one cluster id, fixed node ids, fixed proxy addresses.

Why slots: clusters A and B may have different node ids and different broker counts, yet a client
that cached "node 2 is at proxy:9202" before a switch must still reach a broker after it. So the
proxy owns virtual node ids 0..max_brokers-1, each bound to one proxy port forever, and keeps per
upstream cluster a sticky map real node id -> slot. Slots are handed out in ascending order of real
node id the first time a cluster's brokers are seen and never taken back, so a broker that leaves
and returns keeps its virtual id.

A connection to a slot the active cluster does not fill (B smaller than A) goes to slot
`n mod count`; anything that needed the real slot answers NOT_LEADER/NOT_COORDINATOR and the client
refreshes metadata, which lists only the slots that exist. A slot whose broker is down is not such
a slot: it still routes to that broker (refused, as a direct client would be) and reaches it again
the moment it is back (see `ProxyContext.route`).
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.dataplane.topic_ids import ClusterTopicIds


class SlotsExhausted(Exception):
    """An upstream cluster has more brokers than the configured virtual slots."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int


class ClusterSlots:
    """The sticky real-node-id <-> slot map of one upstream cluster."""

    __slots__ = ("_real_to_slot", "_slot_to_real", "max_slots")

    def __init__(self, max_slots: int) -> None:
        self.max_slots = max_slots
        self._real_to_slot: dict[int, int] = {}
        self._slot_to_real: dict[int, int] = {}

    def learn(self, real_node_ids: list[int]) -> None:
        """Give every not yet known node id the lowest free slot, in ascending id order."""
        for real in sorted(set(real_node_ids)):
            if real in self._real_to_slot:
                continue
            free = next((s for s in range(self.max_slots) if s not in self._slot_to_real), None)
            if free is None:
                raise SlotsExhausted(f"more than {self.max_slots} brokers; raise listeners.max_brokers")
            self._real_to_slot[real] = free
            self._slot_to_real[free] = real

    def slot(self, real_node_id: int) -> int:
        """Virtual id of a real node; -1 and unknown ids (no such broker) map to -1."""
        return self._real_to_slot.get(real_node_id, -1)

    def real(self, slot: int) -> int | None:
        return self._slot_to_real.get(slot)

    def slots(self) -> dict[int, int]:
        """slot -> real node id."""
        return dict(self._slot_to_real)


class VirtualCluster:
    """Virtual ids and addresses plus the slot maps of every upstream cluster."""

    def __init__(self, cluster_id: str, advertised_host: str, broker_port_base: int, max_brokers: int) -> None:
        self.cluster_id = cluster_id
        self.advertised_host = advertised_host
        self.broker_port_base = broker_port_base
        self.max_brokers = max_brokers
        self._clusters: dict[str, ClusterSlots] = {}
        self._topics: dict[str, ClusterTopicIds] = {}

    def slots_of(self, cluster: str) -> ClusterSlots:
        slots = self._clusters.get(cluster)
        if slots is None:
            slots = self._clusters[cluster] = ClusterSlots(self.max_brokers)
        return slots

    def topics_of(self, cluster: str) -> ClusterTopicIds:
        """The real <-> virtual topic ids of one upstream cluster (see `topic_ids`)."""
        topics = self._topics.get(cluster)
        if topics is None:
            topics = self._topics[cluster] = ClusterTopicIds(self.cluster_id)
        return topics

    def endpoint(self, virtual_node: int) -> Endpoint:
        """The proxy address that fronts a virtual node, whatever cluster is active."""
        return Endpoint(self.advertised_host, self.broker_port_base + virtual_node)

    def mapper(self, cluster: str) -> NodeMapper:
        return NodeMapper(self, self.slots_of(cluster), self.topics_of(cluster))


class NodeMapper:
    """What response and request rewriters need for one upstream cluster."""

    __slots__ = ("_slots", "_virtual", "cluster_id", "host", "port_base", "topics")

    def __init__(self, virtual: VirtualCluster, slots: ClusterSlots, topics: ClusterTopicIds) -> None:
        self._virtual = virtual
        self._slots = slots
        self.topics = topics
        self.cluster_id = virtual.cluster_id
        self.host = virtual.advertised_host
        self.port_base = virtual.broker_port_base

    def node(self, real_node_id: int) -> int:
        """Real node id -> virtual; -1 stays -1. Learns an id it has not seen (a new broker)."""
        if real_node_id < 0:
            return real_node_id
        virtual = self._slots.slot(real_node_id)
        if virtual < 0:
            self._slots.learn([real_node_id])
            virtual = self._slots.slot(real_node_id)
        return virtual

    def port(self, virtual_node: int) -> int:
        return self.port_base + virtual_node

    def real_node(self, virtual_node: int) -> int | None:
        """Virtual node id -> real node id of this cluster, for node-targeted requests."""
        return self._slots.real(virtual_node)
