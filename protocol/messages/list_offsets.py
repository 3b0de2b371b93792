"""ListOffsets (key 2): offsets by timestamp (earliest, latest, max timestamp, tiered...).

Offsets differ between clusters, so after a switch consumers re-resolve positions with it; the
response's LeaderEpoch is one of the epochs the proxy reports as -1.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 2

REQUEST = MessageSpec(
    name="ListOffsetsRequest",
    api_key=API_KEY,
    valid="1-11",
    flexible="6+",
    fields=(
        Field("ReplicaId", "int32", "0+"),
        Field("IsolationLevel", "int8", "2+"),
        Field(
            "Topics",
            "[]ListOffsetsTopic",
            "0+",
            fields=(
                Field("Name", "string", "0+"),
                Field(
                    "Partitions",
                    "[]ListOffsetsPartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("CurrentLeaderEpoch", "int32", "4+", default=-1),
                        Field("Timestamp", "int64", "0+"),
                    ),
                ),
            ),
        ),
        Field("TimeoutMs", "int32", "10+"),
    ),
)

RESPONSE = MessageSpec(
    name="ListOffsetsResponse",
    api_key=API_KEY,
    valid="1-11",
    flexible="6+",
    fields=(
        Field("ThrottleTimeMs", "int32", "2+"),
        Field(
            "Topics",
            "[]ListOffsetsTopicResponse",
            "0+",
            fields=(
                Field("Name", "string", "0+"),
                Field(
                    "Partitions",
                    "[]ListOffsetsPartitionResponse",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("ErrorCode", "int16", "0+"),
                        Field("Timestamp", "int64", "1+", default=-1),
                        Field("Offset", "int64", "1+", default=-1),
                        Field("LeaderEpoch", "int32", "4+", default=-1),
                    ),
                ),
            ),
        ),
    ),
)
