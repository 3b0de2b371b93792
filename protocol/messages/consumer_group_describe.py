"""ConsumerGroupDescribe (key 69): KIP-848 groups as an admin sees them.

Decoded only for its topic ids: every member's current and target assignment names topics by id
and name (`TopicPartitions`), which the proxy shows as virtual ids.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 69

# shared with ShareGroupDescribe, whose JSON repeats these
ASSIGNMENT = (
    Field(
        "TopicPartitions",
        "[]TopicPartitions",
        "0+",
        fields=(
            Field("TopicId", "uuid", "0+"),
            Field("TopicName", "string", "0+"),
            Field("Partitions", "[]int32", "0+"),
        ),
    ),
)

REQUEST_FIELDS = (
    Field("GroupIds", "[]string", "0+"),
    Field("IncludeAuthorizedOperations", "bool", "0+"),
)
GROUP_HEAD = (
    Field("ErrorCode", "int16", "0+"),
    Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
    Field("GroupId", "string", "0+"),
    Field("GroupState", "string", "0+"),
    Field("GroupEpoch", "int32", "0+"),
    Field("AssignmentEpoch", "int32", "0+"),
    Field("AssignorName", "string", "0+"),
)
AUTHORIZED_OPERATIONS = Field("AuthorizedOperations", "int32", "0+", default=-2147483648)

REQUEST = MessageSpec(
    name="ConsumerGroupDescribeRequest",
    api_key=API_KEY,
    valid="0-1",
    flexible="0+",
    fields=REQUEST_FIELDS,
)

RESPONSE = MessageSpec(
    name="ConsumerGroupDescribeResponse",
    api_key=API_KEY,
    valid="0-1",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field(
            "Groups",
            "[]DescribedGroup",
            "0+",
            fields=(
                *GROUP_HEAD,
                Field(
                    "Members",
                    "[]Member",
                    "0+",
                    fields=(
                        Field("MemberId", "string", "0+"),
                        Field("InstanceId", "string", "0+", nullable="0+", default=NULL),
                        Field("RackId", "string", "0+", nullable="0+", default=NULL),
                        Field("MemberEpoch", "int32", "0+"),
                        Field("ClientId", "string", "0+"),
                        Field("ClientHost", "string", "0+"),
                        Field("SubscribedTopicNames", "[]string", "0+"),
                        Field("SubscribedTopicRegex", "string", "0+", nullable="0+", default=NULL),
                        Field("Assignment", "Assignment", "0+", fields=ASSIGNMENT),
                        Field("TargetAssignment", "Assignment", "0+", fields=ASSIGNMENT),
                        Field("MemberType", "int8", "1+", default=-1),
                    ),
                ),
                AUTHORIZED_OPERATIONS,
            ),
        ),
    ),
)
