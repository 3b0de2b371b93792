"""InitProducerId (key 22): a producer id and epoch for idempotent or transactional producers.

The ids come from the cluster that answered; after a switch the producer must get a new one from
the other cluster, which is why the proxy watches this exchange. v6 (KIP-939 two-phase commit) is
still unstable in 4.4, so a 4.4 broker serves v0-5; its fields are transcribed for when it lands.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 22

REQUEST = MessageSpec(
    name="InitProducerIdRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="2+",
    fields=(
        Field("TransactionalId", "string", "0+", nullable="0+"),
        Field("TransactionTimeoutMs", "int32", "0+"),
        Field("ProducerId", "int64", "3+", default=-1),
        Field("ProducerEpoch", "int16", "3+", default=-1),
        Field("Enable2Pc", "bool", "6+"),
        Field("KeepPreparedTxn", "bool", "6+"),
    ),
)

RESPONSE = MessageSpec(
    name="InitProducerIdResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="2+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ProducerId", "int64", "0+", default=-1),
        Field("ProducerEpoch", "int16", "0+"),
        Field("OngoingTxnProducerId", "int64", "6+", default=-1),
        Field("OngoingTxnProducerEpoch", "int16", "6+", default=-1),
    ),
)
