"""Rewrites of the KIP-951 leader hints carried by data-plane responses.

Produce, Fetch, ShareFetch and ShareAcknowledge responses may name a new leader (`CurrentLeader`,
per partition) and its address (`NodeEndpoints`, top level) so a client can move without a full
metadata refresh. Both are real: the leader id becomes virtual, its epoch -1 (which clients treat
as "no epoch" and so never compare across clusters), each endpoint the proxy port of the virtual
node. Fetch's `PreferredReadReplica` is mapped the same way.
"""

from __future__ import annotations

from typing import Any

from proxy.dataplane.virtual_cluster import NodeMapper


def rewrite_current_leader(holder: Any, mapper: NodeMapper) -> None:
    leader = holder.get("CurrentLeader")
    if leader is not None:
        leader.LeaderId = mapper.node(leader.LeaderId)
        leader.LeaderEpoch = -1


def rewrite_node_endpoints(msg: Any, mapper: NodeMapper) -> None:
    endpoints = msg.get("NodeEndpoints")
    if not endpoints:
        return
    for endpoint in endpoints:
        virtual = mapper.node(endpoint.NodeId)
        endpoint.NodeId = virtual
        endpoint.Host = mapper.host
        endpoint.Port = mapper.port(virtual)


def rewrite_produce(msg: Any, version: int, mapper: NodeMapper) -> None:
    for topic in msg.Responses:
        for partition in topic.PartitionResponses:
            rewrite_current_leader(partition, mapper)
    rewrite_node_endpoints(msg, mapper)


def rewrite_fetch(msg: Any, version: int, mapper: NodeMapper) -> None:
    for topic in msg.Responses:
        for partition in topic.Partitions:
            if "PreferredReadReplica" in partition:
                partition.PreferredReadReplica = mapper.node(partition.PreferredReadReplica)
            rewrite_current_leader(partition, mapper)
    rewrite_node_endpoints(msg, mapper)


def rewrite_share(msg: Any, version: int, mapper: NodeMapper) -> None:
    """ShareFetch and ShareAcknowledge: same hints, NodeEndpoints as a plain field."""
    for topic in msg.Responses:
        for partition in topic.Partitions:
            rewrite_current_leader(partition, mapper)
    rewrite_node_endpoints(msg, mapper)
