"""SaslHandshake (key 17): the client names its SASL mechanism; the server lists the ones it enables.

Version 0 is followed by raw, unframed SASL tokens that no Kafka frame splitter can read, so the
proxy advertises only v1, after which every token travels in a SaslAuthenticate frame (KIP-152).
Kafka 4.4 brokers still accept 0-1; every client of the last years sends v1.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 17
FRAMED_TOKENS_FROM = 1  # the first version whose tokens come as SaslAuthenticate requests

REQUEST = MessageSpec(
    name="SaslHandshakeRequest",
    api_key=API_KEY,
    valid="0-1",
    flexible="none",
    fields=(
        Field("Mechanism", "string", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="SaslHandshakeResponse",
    api_key=API_KEY,
    valid="0-1",
    flexible="none",
    fields=(
        Field("ErrorCode", "int16", "0+"),
        Field("Mechanisms", "[]string", "0+"),
    ),
)
