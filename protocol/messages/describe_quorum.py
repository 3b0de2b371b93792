"""DescribeQuorum (key 55): the KRaft metadata quorum's leader, voters and observers.

v2 adds `Nodes` with listener endpoints (KIP-853): real controller and broker addresses that the
proxy must hide or rewrite, since clients must never learn an upstream address.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 55

REQUEST = MessageSpec(
    name="DescribeQuorumRequest",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field(
            "Topics",
            "[]TopicData",
            "0+",
            fields=(
                Field("TopicName", "string", "0+"),
                Field(
                    "Partitions",
                    "[]PartitionData",
                    "0+",
                    fields=(Field("PartitionIndex", "int32", "0+"),),
                ),
            ),
        ),
    ),
)

_REPLICA_STATE = (
    Field("ReplicaId", "int32", "0+"),
    Field("ReplicaDirectoryId", "uuid", "2+"),
    Field("LogEndOffset", "int64", "0+"),
    Field("LastFetchTimestamp", "int64", "1+", default=-1),
    Field("LastCaughtUpTimestamp", "int64", "1+", default=-1),
)

RESPONSE = MessageSpec(
    name="DescribeQuorumResponse",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "2+", nullable="2+"),
        Field(
            "Topics",
            "[]TopicData",
            "0+",
            fields=(
                Field("TopicName", "string", "0+"),
                Field(
                    "Partitions",
                    "[]PartitionData",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("ErrorCode", "int16", "0+"),
                        Field("ErrorMessage", "string", "2+", nullable="2+"),
                        Field("LeaderId", "int32", "0+"),
                        Field("LeaderEpoch", "int32", "0+"),
                        Field("HighWatermark", "int64", "0+"),
                        Field("CurrentVoters", "[]ReplicaState", "0+", fields=_REPLICA_STATE),
                        Field("Observers", "[]ReplicaState", "0+", fields=_REPLICA_STATE),
                    ),
                ),
            ),
        ),
        Field(
            "Nodes",
            "[]Node",
            "2+",
            fields=(
                Field("NodeId", "int32", "2+"),
                Field(
                    "Listeners",
                    "[]Listener",
                    "2+",
                    fields=(
                        Field("Name", "string", "2+"),
                        Field("Host", "string", "2+"),
                        Field("Port", "uint16", "2+"),
                    ),
                ),
            ),
        ),
    ),
)
