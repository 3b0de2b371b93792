"""AddPartitionsToTxn (key 24): a transactional producer registers partitions with its coordinator.

Clients use v0-3 (one transaction, `V3AndBelow*` fields); brokers use v4+ to batch transactions and
verify membership (KIP-890). The coordinator is found through FindCoordinator, so requests reach
the right real broker once FindCoordinator answers are mapped.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 24

_TOPIC = (
    Field("Name", "string", "0+"),
    Field("Partitions", "[]int32", "0+"),
)

REQUEST = MessageSpec(
    name="AddPartitionsToTxnRequest",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field(
            "Transactions",
            "[]AddPartitionsToTxnTransaction",
            "4+",
            fields=(
                Field("TransactionalId", "string", "4+"),
                Field("ProducerId", "int64", "4+"),
                Field("ProducerEpoch", "int16", "4+"),
                Field("VerifyOnly", "bool", "4+"),
                Field("Topics", "[]AddPartitionsToTxnTopic", "4+", fields=_TOPIC),
            ),
        ),
        Field("V3AndBelowTransactionalId", "string", "0-3"),
        Field("V3AndBelowProducerId", "int64", "0-3"),
        Field("V3AndBelowProducerEpoch", "int16", "0-3"),
        Field("V3AndBelowTopics", "[]AddPartitionsToTxnTopic", "0-3", fields=_TOPIC),
    ),
)

_TOPIC_RESULT = (
    Field("Name", "string", "0+"),
    Field(
        "ResultsByPartition",
        "[]AddPartitionsToTxnPartitionResult",
        "0+",
        fields=(
            Field("PartitionIndex", "int32", "0+"),
            Field("PartitionErrorCode", "int16", "0+"),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="AddPartitionsToTxnResponse",
    api_key=API_KEY,
    valid="0-5",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "4+"),
        Field(
            "ResultsByTransaction",
            "[]AddPartitionsToTxnResult",
            "4+",
            fields=(
                Field("TransactionalId", "string", "4+"),
                Field("TopicResults", "[]AddPartitionsToTxnTopicResult", "4+", fields=_TOPIC_RESULT),
            ),
        ),
        Field("ResultsByTopicV3AndBelow", "[]AddPartitionsToTxnTopicResult", "0-3", fields=_TOPIC_RESULT),
    ),
)
