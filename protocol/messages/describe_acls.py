"""DescribeAcls (key 29): the ACL bindings a cluster's authorizer holds, matching a filter.

The governance gate reads every binding from A and from B to find a principal or ACL A grants and B
lacks before a planned switch. A cluster without an authorizer answers SECURITY_DISABLED (54).
Versions 1-3 (v0 was removed in Kafka 4.0); enum codes are in `proxy/upstream/governance_reader.py`.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 29

REQUEST = MessageSpec(
    name="DescribeAclsRequest",
    api_key=API_KEY,
    valid="1-3",
    flexible="2+",
    fields=(
        Field("ResourceTypeFilter", "int8", "0+"),
        Field("ResourceNameFilter", "string", "0+", nullable="0+"),
        Field("PatternTypeFilter", "int8", "1+", default=3),
        Field("PrincipalFilter", "string", "0+", nullable="0+"),
        Field("HostFilter", "string", "0+", nullable="0+"),
        Field("Operation", "int8", "0+"),
        Field("PermissionType", "int8", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeAclsResponse",
    api_key=API_KEY,
    valid="1-3",
    flexible="2+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+"),
        Field(
            "Resources",
            "[]DescribeAclsResource",
            "0+",
            fields=(
                Field("ResourceType", "int8", "0+"),
                Field("ResourceName", "string", "0+"),
                Field("PatternType", "int8", "1+", default=3),
                Field(
                    "Acls",
                    "[]AclDescription",
                    "0+",
                    fields=(
                        Field("Principal", "string", "0+"),
                        Field("Host", "string", "0+"),
                        Field("Operation", "int8", "0+"),
                        Field("PermissionType", "int8", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
