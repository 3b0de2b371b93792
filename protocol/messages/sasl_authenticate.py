"""SaslAuthenticate (key 36): one SASL token each way, opaque to Kafka, per mechanism round.

`SessionLifetimeMs` (v1+, KIP-368) tells the client when it must re-authenticate on the same
connection (a new SaslHandshake + SaslAuthenticate) before the server closes it. An error answer
carries `ErrorCode` 58 (SASL_AUTHENTICATION_FAILED) and a message; the server then closes.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 36

REQUEST = MessageSpec(
    name="SaslAuthenticateRequest",
    api_key=API_KEY,
    valid="0-2",
    flexible="2+",
    fields=(
        Field("AuthBytes", "bytes", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="SaslAuthenticateResponse",
    api_key=API_KEY,
    valid="0-2",
    flexible="2+",
    fields=(
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+"),
        Field("AuthBytes", "bytes", "0+"),
        Field("SessionLifetimeMs", "int64", "1+"),
    ),
)
