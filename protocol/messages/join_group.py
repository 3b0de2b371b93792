"""JoinGroup (key 11): classic consumer group protocol, step one of a rebalance.

Sent to the group coordinator; group state lives in one cluster, so after a switch members rejoin
on the other cluster's coordinator.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 11

REQUEST = MessageSpec(
    name="JoinGroupRequest",
    api_key=API_KEY,
    valid="0-9",
    flexible="6+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("SessionTimeoutMs", "int32", "0+"),
        Field("RebalanceTimeoutMs", "int32", "1+", default=-1),
        Field("MemberId", "string", "0+"),
        Field("GroupInstanceId", "string", "5+", nullable="5+", default=NULL),
        Field("ProtocolType", "string", "0+"),
        Field(
            "Protocols",
            "[]JoinGroupRequestProtocol",
            "0+",
            fields=(
                Field("Name", "string", "0+"),
                Field("Metadata", "bytes", "0+"),
            ),
        ),
        Field("Reason", "string", "8+", nullable="8+", default=NULL),
    ),
)

RESPONSE = MessageSpec(
    name="JoinGroupResponse",
    api_key=API_KEY,
    valid="0-9",
    flexible="6+",
    fields=(
        Field("ThrottleTimeMs", "int32", "2+"),
        Field("ErrorCode", "int16", "0+"),
        Field("GenerationId", "int32", "0+", default=-1),
        Field("ProtocolType", "string", "7+", nullable="7+", default=NULL),
        Field("ProtocolName", "string", "0+", nullable="7+"),
        Field("Leader", "string", "0+"),
        Field("SkipAssignment", "bool", "9+"),
        Field("MemberId", "string", "0+"),
        Field(
            "Members",
            "[]JoinGroupResponseMember",
            "0+",
            fields=(
                Field("MemberId", "string", "0+"),
                Field("GroupInstanceId", "string", "5+", nullable="5+", default=NULL),
                Field("Metadata", "bytes", "0+"),
            ),
        ),
    ),
)
