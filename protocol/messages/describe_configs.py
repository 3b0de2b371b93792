"""DescribeConfigs (key 32): configuration of topics, brokers and other resources.

A BROKER resource is named by a node id in a string; the proxy maps that virtual id to the real one
on the way in and back on the way out. v0 is gone since Kafka 4.0 (KIP-896).
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 32

REQUEST = MessageSpec(
    name="DescribeConfigsRequest",
    api_key=API_KEY,
    valid="1-4",
    flexible="4+",
    fields=(
        Field(
            "Resources",
            "[]DescribeConfigsResource",
            "0+",
            fields=(
                Field("ResourceType", "int8", "0+"),
                Field("ResourceName", "string", "0+"),
                Field("ConfigurationKeys", "[]string", "0+", nullable="0+"),
            ),
        ),
        Field("IncludeSynonyms", "bool", "1+"),
        Field("IncludeDocumentation", "bool", "3+"),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeConfigsResponse",
    api_key=API_KEY,
    valid="1-4",
    flexible="4+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field(
            "Results",
            "[]DescribeConfigsResult",
            "0+",
            fields=(
                Field("ErrorCode", "int16", "0+"),
                Field("ErrorMessage", "string", "0+", nullable="0+"),
                Field("ResourceType", "int8", "0+"),
                Field("ResourceName", "string", "0+"),
                Field(
                    "Configs",
                    "[]DescribeConfigsResourceResult",
                    "0+",
                    fields=(
                        Field("Name", "string", "0+"),
                        Field("Value", "string", "0+", nullable="0+"),
                        Field("ReadOnly", "bool", "0+"),
                        Field("ConfigSource", "int8", "1+", default=-1),
                        Field("IsSensitive", "bool", "0+"),
                        Field(
                            "Synonyms",
                            "[]DescribeConfigsSynonym",
                            "1+",
                            fields=(
                                Field("Name", "string", "1+"),
                                Field("Value", "string", "1+", nullable="0+"),
                                Field("Source", "int8", "1+"),
                            ),
                        ),
                        Field("ConfigType", "int8", "3+"),
                        Field("Documentation", "string", "3+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)
