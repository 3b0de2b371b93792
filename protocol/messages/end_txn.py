"""EndTxn (key 26): a transactional producer commits or aborts at its transaction coordinator.

Its producer id and epoch come from InitProducerId on the same cluster; v5 (KIP-890 part 2)
returns the bumped producer id and epoch.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 26

REQUEST = MessageSpec(
    name="EndTxnRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("TransactionalId", "string", "0+"),
        Field("ProducerId", "int64", "0+"),
        Field("ProducerEpoch", "int16", "0+"),
        Field("Committed", "bool", "0+"),
    ),
)

RESPONSE = MessageSpec(
    name="EndTxnResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ProducerId", "int64", "5+", default=-1),
        Field("ProducerEpoch", "int16", "5+", default=-1),
    ),
)
