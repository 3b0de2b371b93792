"""ListTransactions (key 66): transactions known to the broker's coordinators (admin tooling).

Sent to every broker by the admin client; answers carry no addresses, so the proxy only routes it.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 66

REQUEST = MessageSpec(
    name="ListTransactionsRequest",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field("StateFilters", "[]string", "0+"),
        Field("ProducerIdFilters", "[]int64", "0+"),
        Field("DurationFilter", "int64", "1+", default=-1),
        Field("TransactionalIdPattern", "string", "2+", nullable="2+", default=NULL),
    ),
)

RESPONSE = MessageSpec(
    name="ListTransactionsResponse",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("UnknownStateFilters", "[]string", "0+"),
        Field(
            "TransactionStates",
            "[]TransactionState",
            "0+",
            fields=(
                Field("TransactionalId", "string", "0+"),
                Field("ProducerId", "int64", "0+"),
                Field("TransactionState", "string", "0+"),
            ),
        ),
    ),
)
