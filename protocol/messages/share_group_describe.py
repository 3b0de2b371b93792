"""ShareGroupDescribe (key 77): share groups as an admin sees them (KIP-932).

Decoded only for its topic ids: each member's assignment names topics by id and name. The group
fields are ConsumerGroupDescribe's (Kafka's JSON repeats them); only the member differs.
"""

from __future__ import annotations

from protocol.messages.consumer_group_describe import ASSIGNMENT, AUTHORIZED_OPERATIONS, GROUP_HEAD, REQUEST_FIELDS
from protocol.schema import NULL, Field, MessageSpec

API_KEY = 77

REQUEST = MessageSpec(
    name="ShareGroupDescribeRequest",
    api_key=API_KEY,
    valid="1",
    flexible="0+",
    fields=REQUEST_FIELDS,
)

RESPONSE = MessageSpec(
    name="ShareGroupDescribeResponse",
    api_key=API_KEY,
    valid="1",
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
                        Field("RackId", "string", "0+", nullable="0+", default=NULL),
                        Field("MemberEpoch", "int32", "0+"),
                        Field("ClientId", "string", "0+"),
                        Field("ClientHost", "string", "0+"),
                        Field("SubscribedTopicNames", "[]string", "0+"),
                        Field("Assignment", "Assignment", "0+", fields=ASSIGNMENT),
                    ),
                ),
                AUTHORIZED_OPERATIONS,
            ),
        ),
    ),
)
