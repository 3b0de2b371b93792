"""Heartbeat (key 12): a classic-protocol group member keeps its session alive.

Its error code (REBALANCE_IN_PROGRESS, NOT_COORDINATOR, ...) is how the proxy can make members
rejoin after a switch without closing their connections.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 12

REQUEST = MessageSpec(
    name="HeartbeatRequest",
    api_key=API_KEY,
    valid="0-4",
    flexible="4+",
    fields=(
        Field("GroupId", "string", "0+"),
        Field("GenerationId", "int32", "0+"),
        Field("MemberId", "string", "0+"),
        Field("GroupInstanceId", "string", "3+", nullable="3+", default=NULL),
    ),
)

RESPONSE = MessageSpec(
    name="HeartbeatResponse",
    api_key=API_KEY,
    valid="0-4",
    flexible="4+",
    fields=(
        Field("ThrottleTimeMs", "int32", "1+"),
        Field("ErrorCode", "int16", "0+"),
    ),
)
