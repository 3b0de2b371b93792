"""DescribeClientQuotas (key 48): the quotas set per user / client-id / IP entity.

The governance gate lists them on A and B: a producer throttled on B at a tenth of A's rate is not
an outage, but the operator should know before the switch (a warning, never blocking).
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 48

REQUEST = MessageSpec(
    name="DescribeClientQuotasRequest",
    api_key=API_KEY,
    valid="0-1",
    flexible="1+",
    fields=(
        Field(
            "Components",
            "[]ComponentData",
            "0+",
            fields=(
                Field("EntityType", "string", "0+"),
                Field("MatchType", "int8", "0+"),
                Field("Match", "string", "0+", nullable="0+"),
            ),
        ),
        Field("Strict", "bool", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeClientQuotasResponse",
    api_key=API_KEY,
    valid="0-1",
    flexible="1+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+"),
        Field(
            "Entries",
            "[]EntryData",
            "0+",
            nullable="0+",
            fields=(
                Field(
                    "Entity",
                    "[]EntityData",
                    "0+",
                    fields=(
                        Field("EntityType", "string", "0+"),
                        Field("EntityName", "string", "0+", nullable="0+"),
                    ),
                ),
                Field(
                    "Values",
                    "[]ValueData",
                    "0+",
                    fields=(
                        Field("Key", "string", "0+"),
                        Field("Value", "float64", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
