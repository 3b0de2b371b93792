"""Metadata (key 3): brokers, controller, cluster id and partition leaders.

This is the response the proxy rewrites most: every broker becomes a virtual node, every leader,
replica, ISR and offline node id is mapped to its virtual id, and leader epochs are hidden so a
client never compares epochs of two clusters. v10 adds topic ids, v12 allows lookup by id only
(null names), and v13 adds a top-level ErrorCode (REBOOTSTRAP_REQUIRED, KIP-1102).
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 3

REQUEST = MessageSpec(
    name="MetadataRequest",
    api_key=API_KEY,
    valid="0-13",
    flexible="9+",
    fields=(
        Field(
            "Topics",
            "[]MetadataRequestTopic",
            "0+",
            nullable="1+",
            fields=(
                Field("TopicId", "uuid", "10+"),
                Field("Name", "string", "0+", nullable="10+"),
            ),
        ),
        Field("AllowAutoTopicCreation", "bool", "4+", default=True),
        Field("IncludeClusterAuthorizedOperations", "bool", "8-10"),
        Field("IncludeTopicAuthorizedOperations", "bool", "8+"),
    ),
)

RESPONSE = MessageSpec(
    name="MetadataResponse",
    api_key=API_KEY,
    valid="0-13",
    flexible="9+",
    fields=(
        Field("ThrottleTimeMs", "int32", "3+"),
        Field(
            "Brokers",
            "[]MetadataResponseBroker",
            "0+",
            fields=(
                Field("NodeId", "int32", "0+"),
                Field("Host", "string", "0+"),
                Field("Port", "int32", "0+"),
                Field("Rack", "string", "1+", nullable="1+", default=NULL),
            ),
        ),
        Field("ClusterId", "string", "2+", nullable="2+", default=NULL),
        Field("ControllerId", "int32", "1+", default=-1),
        Field(
            "Topics",
            "[]MetadataResponseTopic",
            "0+",
            fields=(
                Field("ErrorCode", "int16", "0+"),
                Field("Name", "string", "0+", nullable="12+"),
                Field("TopicId", "uuid", "10+"),
                Field("IsInternal", "bool", "1+"),
                Field(
                    "Partitions",
                    "[]MetadataResponsePartition",
                    "0+",
                    fields=(
                        Field("ErrorCode", "int16", "0+"),
                        Field("PartitionIndex", "int32", "0+"),
                        Field("LeaderId", "int32", "0+"),
                        Field("LeaderEpoch", "int32", "7+", default=-1),
                        Field("ReplicaNodes", "[]int32", "0+"),
                        Field("IsrNodes", "[]int32", "0+"),
                        Field("OfflineReplicas", "[]int32", "5+"),
                    ),
                ),
                Field("TopicAuthorizedOperations", "int32", "8+", default=-2147483648),
            ),
        ),
        Field("ClusterAuthorizedOperations", "int32", "8-10", default=-2147483648),
        Field("ErrorCode", "int16", "13+"),
    ),
)
