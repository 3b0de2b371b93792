"""AddOffsetsToTxn (key 25): a transaction will commit consumer offsets of `GroupId`.

It can open a transaction on its own (before any produce), so the switch's transaction fence
refuses it for a transactional id with no open transaction.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 25

REQUEST = MessageSpec(
    name="AddOffsetsToTxnRequest",
    api_key=API_KEY,
    valid="0-4",
    flexible="3+",
    fields=(
        Field("TransactionalId", "string", "0+"),
        Field("ProducerId", "int64", "0+"),
        Field("ProducerEpoch", "int16", "0+"),
        Field("GroupId", "string", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="AddOffsetsToTxnResponse",
    api_key=API_KEY,
    valid="0-4",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
    ),
)
