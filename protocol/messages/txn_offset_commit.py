"""TxnOffsetCommit (key 28): a transactional producer commits a group's offsets inside its transaction.

With transaction version 2 (KIP-890, Java 4.x against 4.x brokers, v5+) there is no AddOffsetsToTxn
before it: this request alone adds the group's offsets to the transaction, so it can open one. The
switch's fence therefore decides it like the other requests that open a transaction. v6 (4.4,
KIP-1319) names topics by TopicId.
"""

from __future__ import annotations

from typing import Any

import construct as cs

from protocol.schema import NULL, Field, MessageSpec, new

API_KEY = 28

REQUEST = MessageSpec(
    name="TxnOffsetCommitRequest",
    api_key=API_KEY,
    valid="0-6",
    flexible="3+",
    fields=(
        Field("TransactionalId", "string", "0+"),
        Field("GroupId", "string", "0+"),
        Field("ProducerId", "int64", "0+"),
        Field("ProducerEpoch", "int16", "0+"),
        Field("GenerationIdOrMemberEpoch", "int32", "3+", default=-1),
        Field("MemberId", "string", "3+"),
        Field("GroupInstanceId", "string", "3+", nullable="3+", default=NULL),
        Field(
            "Topics",
            "[]TxnOffsetCommitRequestTopic",
            "0+",
            fields=(
                Field("Name", "string", "0-5"),
                Field("TopicId", "uuid", "6+"),
                Field(
                    "Partitions",
                    "[]TxnOffsetCommitRequestPartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("CommittedOffset", "int64", "0+"),
                        Field("CommittedLeaderEpoch", "int32", "2+", default=-1),
                        Field("CommittedMetadata", "string", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="TxnOffsetCommitResponse",
    api_key=API_KEY,
    valid="0-6",
    flexible="3+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field(
            "Topics",
            "[]TxnOffsetCommitResponseTopic",
            "0+",
            fields=(
                Field("Name", "string", "0-5"),
                Field("TopicId", "uuid", "6+"),
                Field(
                    "Partitions",
                    "[]TxnOffsetCommitResponsePartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("ErrorCode", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)


def failed_response(request: cs.Container, version: int, error_code: int) -> cs.Container:
    """A response failing every partition of a decoded `request` with `error_code`."""
    topics = []
    for topic in request.Topics:
        entry: dict[str, Any] = {"TopicId": topic.TopicId} if version >= 6 else {"Name": topic.Name}
        entry["Partitions"] = [{"PartitionIndex": p.PartitionIndex, "ErrorCode": error_code} for p in topic.Partitions]
        topics.append(entry)
    return new(RESPONSE, version, ThrottleTimeMs=0, Topics=topics)
