"""DescribeUserScramCredentials (key 50): SCRAM users and their mechanisms (never the salted secrets).

The governance gate compares users and mechanisms on A and B: a user A knows and B does not would
fail authentication on every connection after a switch. Mechanism 1 is SCRAM-SHA-256, 2 SCRAM-SHA-512.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 50

REQUEST = MessageSpec(
    name="DescribeUserScramCredentialsRequest",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(
        Field("Users", "[]UserName", "0+", nullable="0+", fields=(Field("Name", "string", "0+"),)),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeUserScramCredentialsResponse",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+"),
        Field(
            "Results",
            "[]DescribeUserScramCredentialsResult",
            "0+",
            fields=(
                Field("User", "string", "0+"),
                Field("ErrorCode", "int16", "0+"),
                Field("ErrorMessage", "string", "0+", nullable="0+"),
                Field(
                    "CredentialInfos",
                    "[]CredentialInfo",
                    "0+",
                    fields=(
                        Field("Mechanism", "int8", "0+"),
                        Field("Iterations", "int32", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
