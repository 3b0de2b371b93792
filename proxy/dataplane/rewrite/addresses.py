"""Rewrites of the responses that describe the cluster: brokers, coordinators, partition leaders.

Every real node id becomes its virtual id, every broker address the proxy port of that virtual
node, every cluster id the virtual one, and every leader epoch -1: epochs of A and B are unrelated,
and clients ignore metadata whose epoch went down (protocol reference 4.3), so the proxy never lets
them compare.
"""

from __future__ import annotations

from typing import Any

from proxy.dataplane.rewrite.topic_ids import response_ids_to_virtual
from proxy.dataplane.virtual_cluster import NodeMapper


def map_nodes(ids: list[int] | None, mapper: NodeMapper) -> list[int] | None:
    if ids is None:
        return None
    return [mapper.node(i) for i in ids]


def rewrite_broker(broker: Any, mapper: NodeMapper, id_field: str = "NodeId") -> None:
    virtual = mapper.node(broker[id_field])
    broker[id_field] = virtual
    broker.Host = mapper.host
    broker.Port = mapper.port(virtual)


def rewrite_metadata(msg: Any, version: int, mapper: NodeMapper) -> None:
    for broker in msg.Brokers:
        rewrite_broker(broker, mapper)
    if "ClusterId" in msg:
        msg.ClusterId = mapper.cluster_id
    if "ControllerId" in msg:
        msg.ControllerId = mapper.node(msg.ControllerId)
    for topic in msg.Topics:
        for partition in topic.Partitions:
            rewrite_partition(partition, mapper)
    if version >= 10:
        response_ids_to_virtual(msg, version, mapper)


def rewrite_partition(partition: Any, mapper: NodeMapper) -> None:
    """Leader, replica lists and epoch of a Metadata or DescribeTopicPartitions partition."""
    partition.LeaderId = mapper.node(partition.LeaderId)
    for name in ("ReplicaNodes", "IsrNodes", "OfflineReplicas", "EligibleLeaderReplicas", "LastKnownElr"):
        if name in partition:
            partition[name] = map_nodes(partition[name], mapper)
    if "LeaderEpoch" in partition:
        partition.LeaderEpoch = -1


def rewrite_find_coordinator(msg: Any, version: int, mapper: NodeMapper) -> None:
    if version < 4:
        if msg.ErrorCode == 0:
            rewrite_broker(msg, mapper)
        return
    for coordinator in msg.Coordinators:
        if coordinator.ErrorCode == 0:
            rewrite_broker(coordinator, mapper)


def rewrite_describe_cluster(msg: Any, version: int, mapper: NodeMapper) -> None:
    msg.ClusterId = mapper.cluster_id
    msg.ControllerId = mapper.node(msg.ControllerId)
    for broker in msg.Brokers:
        rewrite_broker(broker, mapper, "BrokerId")


def rewrite_describe_topic_partitions(msg: Any, version: int, mapper: NodeMapper) -> None:
    for topic in msg.Topics:
        for partition in topic.Partitions:
            rewrite_partition(partition, mapper)
