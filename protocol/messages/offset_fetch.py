"""OffsetFetch (key 9): a consumer group reads its committed positions from the group coordinator.

v8+ batch several groups per request; v9 adds the KIP-848 member id and epoch; v10 names topics by
TopicId. A null Topics asks for every partition the group committed.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 9

REQUEST = MessageSpec(
    name="OffsetFetchRequest",
    api_key=API_KEY,
    valid="1-10",
    flexible="6+",
    fields=(
        Field("GroupId", "string", "0-7"),
        Field(
            "Topics",
            "[]OffsetFetchRequestTopic",
            "0-7",
            nullable="2-7",
            fields=(
                Field("Name", "string", "0-7"),
                Field("PartitionIndexes", "[]int32", "0-7"),
            ),
        ),
        Field(
            "Groups",
            "[]OffsetFetchRequestGroup",
            "8+",
            fields=(
                Field("GroupId", "string", "8+"),
                Field("MemberId", "string", "9+", nullable="9+", default=NULL),
                Field("MemberEpoch", "int32", "9+", default=-1),
                Field(
                    "Topics",
                    "[]OffsetFetchRequestTopics",
                    "8+",
                    nullable="8+",
                    fields=(
                        Field("Name", "string", "8-9"),
                        Field("TopicId", "uuid", "10+"),
                        Field("PartitionIndexes", "[]int32", "8+"),
                    ),
                ),
            ),
        ),
        Field("RequireStable", "bool", "7+"),
    ),
)

RESPONSE = MessageSpec(
    name="OffsetFetchResponse",
    api_key=API_KEY,
    valid="1-10",
    flexible="6+",
    fields=(
        Field("ThrottleTimeMs", "int32", "3+"),
        Field(
            "Topics",
            "[]OffsetFetchResponseTopic",
            "0-7",
            fields=(
                Field("Name", "string", "0-7"),
                Field(
                    "Partitions",
                    "[]OffsetFetchResponsePartition",
                    "0-7",
                    fields=(
                        Field("PartitionIndex", "int32", "0-7"),
                        Field("CommittedOffset", "int64", "0-7"),
                        Field("CommittedLeaderEpoch", "int32", "5-7", default=-1),
                        Field("Metadata", "string", "0-7", nullable="0-7"),
                        Field("ErrorCode", "int16", "0-7"),
                    ),
                ),
            ),
        ),
        Field("ErrorCode", "int16", "2-7"),
        Field(
            "Groups",
            "[]OffsetFetchResponseGroup",
            "8+",
            fields=(
                Field("GroupId", "string", "8+"),
                Field(
                    "Topics",
                    "[]OffsetFetchResponseTopics",
                    "8+",
                    fields=(
                        Field("Name", "string", "8-9"),
                        Field("TopicId", "uuid", "10+"),
                        Field(
                            "Partitions",
                            "[]OffsetFetchResponsePartitions",
                            "8+",
                            fields=(
                                Field("PartitionIndex", "int32", "8+"),
                                Field("CommittedOffset", "int64", "8+"),
                                Field("CommittedLeaderEpoch", "int32", "8+", default=-1),
                                Field("Metadata", "string", "8+", nullable="8+"),
                                Field("ErrorCode", "int16", "8+"),
                            ),
                        ),
                    ),
                ),
                Field("ErrorCode", "int16", "8+"),
            ),
        ),
    ),
)
