"""OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, used by consumers to detect truncation.

Leader epochs of two clusters are unrelated; the proxy hides epochs (-1) so consumers skip this
validation rather than compare A's epochs with B's.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 23

REQUEST = MessageSpec(
    name="OffsetForLeaderEpochRequest",
    api_key=API_KEY,
    valid="2-4",
    flexible="4+",
    fields=(
        Field("ReplicaId", "int32", "3+", default=-2),
        Field(
            "Topics",
            "[]OffsetForLeaderTopic",
            "0+",
            fields=(
                Field("Topic", "string", "0+"),
                Field(
                    "Partitions",
                    "[]OffsetForLeaderPartition",
                    "0+",
                    fields=(
                        Field("Partition", "int32", "0+"),
                        Field("CurrentLeaderEpoch", "int32", "2+", default=-1),
                        Field("LeaderEpoch", "int32", "0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="OffsetForLeaderEpochResponse",
    api_key=API_KEY,
    valid="2-4",
    flexible="4+",
    fields=(
        Field("ThrottleTimeMs", "int32", "2+"),
        Field(
            "Topics",
            "[]OffsetForLeaderTopicResult",
            "0+",
            fields=(
                Field("Topic", "string", "0+"),
                Field(
                    "Partitions",
                    "[]EpochEndOffset",
                    "0+",
                    fields=(
                        Field("ErrorCode", "int16", "0+"),
                        Field("Partition", "int32", "0+"),
                        Field("LeaderEpoch", "int32", "1+", default=-1),
                        Field("EndOffset", "int64", "0+", default=-1),
                    ),
                ),
            ),
        ),
    ),
)
