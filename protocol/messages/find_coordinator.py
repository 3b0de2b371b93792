"""FindCoordinator (key 10): where a group's, transaction's or share group's coordinator lives.

v0-3 answer one key with a top-level NodeId/Host/Port; v4+ (KIP-699) batch keys and answer one
`Coordinators` entry per key. Both carry a real broker address, so the proxy rewrites every
answer to the virtual node that fronts that broker (error entries carry -1/""/-1 and are left).
KeyType: 0 group, 1 transaction, 2 share (v6).
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 10

REQUEST = MessageSpec(
    name="FindCoordinatorRequest",
    api_key=API_KEY,
    valid="0-6",
    flexible="3+",
    fields=(
        Field("Key", "string", "0-3"),
        Field("KeyType", "int8", "1+"),
        Field("CoordinatorKeys", "[]string", "4+"),
    ),
)

RESPONSE = MessageSpec(
    name="FindCoordinatorResponse",
    api_key=API_KEY,
    valid="0-6",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "1+"),
        Field("ErrorCode", "int16", "0-3"),
        Field("ErrorMessage", "string", "1-3", nullable="1-3"),
        Field("NodeId", "int32", "0-3"),
        Field("Host", "string", "0-3"),
        Field("Port", "int32", "0-3"),
        Field(
            "Coordinators",
            "[]Coordinator",
            "4+",
            fields=(
                Field("Key", "string", "4+"),
                Field("NodeId", "int32", "4+"),
                Field("Host", "string", "4+"),
                Field("Port", "int32", "4+"),
                Field("ErrorCode", "int16", "4+"),
                Field("ErrorMessage", "string", "4+", nullable="4+"),
            ),
        ),
    ),
)
