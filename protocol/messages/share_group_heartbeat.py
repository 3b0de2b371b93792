"""ShareGroupHeartbeat (key 76): a share-group member's single group call (KIP-932).

Decoded only for its topic ids: the assignment names topics by id. `Assignment` is null when it
did not change.
"""

from __future__ import annotations

from protocol.messages import consumer_group_heartbeat
from protocol.schema import NULL, Field, MessageSpec

API_KEY = 76

REQUEST = MessageSpec(
    name="ShareGroupHeartbeatRequest",
    api_key=API_KEY,
    valid="1",
    flexible="0+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("MemberId", "string", "0+"),
        Field("MemberEpoch", "int32", "0+"),
        Field("RackId", "string", "0+", nullable="0+", default=NULL),
        Field("SubscribedTopicNames", "[]string", "0+", nullable="0+", default=NULL),
    ),
)

RESPONSE = MessageSpec(
    name="ShareGroupHeartbeatResponse",
    api_key=API_KEY,
    valid="1",
    flexible="0+",
    fields=consumer_group_heartbeat.RESPONSE.fields,  # the same fields in Kafka's JSON
)
