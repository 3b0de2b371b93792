"""ListGroups (key 16): the groups one broker coordinates.

The switch lists every group on the source (asking each broker, since each coordinates a share of
them) to carry their committed offsets to the target.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 16

REQUEST = MessageSpec(
    name="ListGroupsRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("StatesFilter", "[]string", "4+"),
        Field("TypesFilter", "[]string", "5+"),
    ),
)

RESPONSE = MessageSpec(
    name="ListGroupsResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "1+"),
        Field("ErrorCode", "int16", "0+"),
        Field(
            "Groups",
            "[]ListedGroup",
            "0+",
            fields=(
                Field("GroupId", "string", "0+"),
                Field("ProtocolType", "string", "0+"),
                Field("GroupState", "string", "4+"),
                Field("GroupType", "string", "5+"),
            ),
        ),
    ),
)
