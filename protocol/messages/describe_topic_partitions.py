"""DescribeTopicPartitions (key 75): paged partition metadata with ELR (KIP-966), used by the admin client.

Leader, replica, ISR, ELR and offline ids are node ids the proxy maps like Metadata's. `Cursor` and
`NextCursor` are nullable structs (KIP-893): an int8 marker, then the struct when present.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 75

REQUEST = MessageSpec(
    name="DescribeTopicPartitionsRequest",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(
        Field("Topics", "[]TopicRequest", "0+", fields=(Field("Name", "string", "0+"),)),
        Field("ResponsePartitionLimit", "int32", "0+", default=2000),
        Field(
            "Cursor",
            "Cursor",
            "0+",
            nullable="0+",
            default=NULL,
            fields=(
                Field("TopicName", "string", "0+"),
                Field("PartitionIndex", "int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeTopicPartitionsResponse",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field(
            "Topics",
            "[]DescribeTopicPartitionsResponseTopic",
            "0+",
            fields=(
                Field("ErrorCode", "int16", "0+"),
                Field("Name", "string", "0+", nullable="0+"),
                Field("TopicId", "uuid", "0+"),
                Field("IsInternal", "bool", "0+"),
                Field(
                    "Partitions",
                    "[]DescribeTopicPartitionsResponsePartition",
                    "0+",
                    fields=(
                        Field("ErrorCode", "int16", "0+"),
                        Field("PartitionIndex", "int32", "0+"),
                        Field("LeaderId", "int32", "0+"),
                        Field("LeaderEpoch", "int32", "0+", default=-1),
                        Field("ReplicaNodes", "[]int32", "0+"),
                        Field("IsrNodes", "[]int32", "0+"),
                        Field("EligibleLeaderReplicas", "[]int32", "0+", nullable="0+", default=NULL),
                        Field("LastKnownElr", "[]int32", "0+", nullable="0+", default=NULL),
                        Field("OfflineReplicas", "[]int32", "0+"),
                    ),
                ),
                Field("TopicAuthorizedOperations", "int32", "0+", default=-2147483648),
            ),
        ),
        Field(
            "NextCursor",
            "Cursor",
            "0+",
            nullable="0+",
            default=NULL,
            fields=(
                Field("TopicName", "string", "0+"),
                Field("PartitionIndex", "int32", "0+"),
            ),
        ),
    ),
)
