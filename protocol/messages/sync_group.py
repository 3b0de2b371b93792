"""SyncGroup (key 14): classic consumer group protocol, step two of a rebalance.

The leader sends every member's assignment (opaque bytes) and each member receives its own.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 14

REQUEST = MessageSpec(
    name="SyncGroupRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="4+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("GenerationId", "int32", "0+"),
        Field("MemberId", "string", "0+"),
        Field("GroupInstanceId", "string", "3+", nullable="3+", default=NULL),
        Field("ProtocolType", "string", "5+", nullable="5+", default=NULL),
        Field("ProtocolName", "string", "5+", nullable="5+", default=NULL),
        Field(
            "Assignments",
            "[]SyncGroupRequestAssignment",
            "0+",
            fields=(
                Field("MemberId", "string", "0+"),
                Field("Assignment", "bytes", "0+"),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="SyncGroupResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="4+",
    fields=(
        Field("ThrottleTimeMs", "int32", "1+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ProtocolType", "string", "5+", nullable="5+", default=NULL),
        Field("ProtocolName", "string", "5+", nullable="5+", default=NULL),
        Field("Assignment", "bytes", "0+"),
    ),
)
