"""OffsetCommit (key 8): a consumer group commits positions at its group coordinator.

Offsets are cluster-specific, so commits are one of the things the switch must hold or fail while
it moves clients. v9 is the first usable with the KIP-848 protocol (member epoch in
GenerationIdOrMemberEpoch); v10 names topics by TopicId.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 8

REQUEST = MessageSpec(
    name="OffsetCommitRequest",
    api_key=API_KEY,
    valid="2-10",
    flexible="8+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("GenerationIdOrMemberEpoch", "int32", "1+", default=-1),
        Field("MemberId", "string", "1+"),
        Field("GroupInstanceId", "string", "7+", nullable="7+", default=NULL),
        Field("RetentionTimeMs", "int64", "2-4", default=-1),
        Field(
            "Topics",
            "[]OffsetCommitRequestTopic",
            "0+",
            fields=(
                Field("Name", "string", "0-9"),
                Field("TopicId", "uuid", "10+"),
                Field(
                    "Partitions",
                    "[]OffsetCommitRequestPartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("CommittedOffset", "int64", "0+"),
                        Field("CommittedLeaderEpoch", "int32", "6+", default=-1),
                        Field("CommittedMetadata", "string", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="OffsetCommitResponse",
    api_key=API_KEY,
    valid="2-10",
    flexible="8+",
    fields=(
        Field("ThrottleTimeMs", "int32", "3+"),
        Field(
            "Topics",
            "[]OffsetCommitResponseTopic",
            "0+",
            fields=(
                Field("Name", "string", "0-9"),
                Field("TopicId", "uuid", "10+"),
                Field(
                    "Partitions",
                    "[]OffsetCommitResponsePartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("ErrorCode", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
