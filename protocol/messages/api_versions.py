"""ApiVersions (key 18): the first request on every connection, and the one the proxy answers itself.

The proxy must advertise only versions it can decode and both clusters serve, so it reads the
broker's answer and intersects the ranges. v3+ is flexible, but the response header stays v0 so an
old client can read a downgrade. Features travel as tagged fields; v5 (KIP-1242) lets a client name
the cluster and node it expects, which the proxy must rewrite to the upstream's real identity.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 18

REQUEST = MessageSpec(
    name="ApiVersionsRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("ClientSoftwareName", "string", "3+"),
        Field("ClientSoftwareVersion", "string", "3+"),
        Field("ClusterId", "string", "5+", nullable="5+", default=NULL),
        Field("NodeId", "int32", "5+", default=-1),
    ),
)

RESPONSE = MessageSpec(
    name="ApiVersionsResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("ErrorCode", "int16", "0+"),
        Field(
            "ApiKeys",
            "[]ApiVersion",
            "0+",
            fields=(
                Field("ApiKey", "int16", "0+"),
                Field("MinVersion", "int16", "0+"),
                Field("MaxVersion", "int16", "0+"),
            ),
        ),
        Field("ThrottleTimeMs", "int32", "1+"),
        Field(
            "SupportedFeatures",
            "[]SupportedFeatureKey",
            "3+",
            tag=0,
            tagged="3+",
            fields=(
                Field("Name", "string", "3+"),
                Field("MinVersion", "int16", "3+"),
                Field("MaxVersion", "int16", "3+"),
            ),
        ),
        Field("FinalizedFeaturesEpoch", "int64", "3+", tag=1, tagged="3+", default=-1),
        Field(
            "FinalizedFeatures",
            "[]FinalizedFeatureKey",
            "3+",
            tag=2,
            tagged="3+",
            fields=(
                Field("Name", "string", "3+"),
                Field("MaxVersionLevel", "int16", "3+"),
                Field("MinVersionLevel", "int16", "3+"),
            ),
        ),
        Field("ZkMigrationReady", "bool", "3+", tag=3, tagged="3+"),
    ),
)
