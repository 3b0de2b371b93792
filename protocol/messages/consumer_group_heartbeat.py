"""ConsumerGroupHeartbeat (key 68): the KIP-848 consumer protocol's single group call.

The coordinator answers with the member's target assignment by topic id. `Assignment` is a nullable
struct (KIP-893): null when the assignment did not change.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 68

_TOPIC_PARTITIONS = (
    Field("TopicId", "uuid", "0+"),
    Field("Partitions", "[]int32", "0+"),
)

REQUEST = MessageSpec(
    name="ConsumerGroupHeartbeatRequest",
    api_key=API_KEY,
    valid="0-1",
    flexible="0+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("MemberId", "string", "0+"),
        Field("MemberEpoch", "int32", "0+"),
        Field("InstanceId", "string", "0+", nullable="0+", default=NULL),
        Field("RackId", "string", "0+", nullable="0+", default=NULL),
        Field("RebalanceTimeoutMs", "int32", "0+", default=-1),
        Field("SubscribedTopicNames", "[]string", "0+", nullable="0+", default=NULL),
        Field("SubscribedTopicRegex", "string", "1+", nullable="1+", default=NULL),
        Field("ServerAssignor", "string", "0+", nullable="0+", default=NULL),
        Field(
            "TopicPartitions",
            "[]TopicPartitions",
            "0+",
            nullable="0+",
            default=NULL,
            fields=_TOPIC_PARTITIONS,
        ),
    ),
)

RESPONSE = MessageSpec(
    name="ConsumerGroupHeartbeatResponse",
    api_key=API_KEY,
    valid="0-1",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
        Field("MemberId", "string", "0+", nullable="0+", default=NULL),
        Field("MemberEpoch", "int32", "0+"),
        Field("HeartbeatIntervalMs", "int32", "0+"),
        Field(
            "Assignment",
            "Assignment",
            "0+",
            nullable="0+",
            default=NULL,
            fields=(Field("TopicPartitions", "[]TopicPartitions", "0+", fields=_TOPIC_PARTITIONS),),
        ),
    ),
)
