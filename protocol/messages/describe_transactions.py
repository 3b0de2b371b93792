"""DescribeTransactions (key 65): state, producer and partitions of transactions (admin tooling).

Sent to each transaction's coordinator, located with FindCoordinator (KeyType 1).
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 65

REQUEST = MessageSpec(
    name="DescribeTransactionsRequest",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(Field("TransactionalIds", "[]string", "0+"),),
)

RESPONSE = MessageSpec(
    name="DescribeTransactionsResponse",
    api_key=API_KEY,
    valid="0",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field(
            "TransactionStates",
            "[]TransactionState",
            "0+",
            fields=(
                Field("ErrorCode", "int16", "0+"),
                Field("TransactionalId", "string", "0+"),
                Field("TransactionState", "string", "0+"),
                Field("TransactionTimeoutMs", "int32", "0+"),
                Field("TransactionStartTimeMs", "int64", "0+"),
                Field("ProducerId", "int64", "0+"),
                Field("ProducerEpoch", "int16", "0+"),
                Field(
                    "Topics",
                    "[]TopicData",
                    "0+",
                    fields=(
                        Field("Topic", "string", "0+"),
                        Field("Partitions", "[]int32", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
