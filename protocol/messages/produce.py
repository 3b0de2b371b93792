"""Produce (key 0): record batches in, per-partition offsets or errors out.

Records stay opaque bytes here (`records` type); record_batch.py reads their headers when the
producer id must be rewritten. v10+ responses may carry KIP-951 leader hints (a tagged
CurrentLeader per partition and tagged NodeEndpoints), which name real brokers and must be mapped;
v13 (KIP-516) names topics by TopicId instead of Name.

`failed_response` answers a request without asking any broker, e.g. while the proxy switches
clusters: every partition fails with one error code, so the producer retries or refreshes metadata.
"""

from __future__ import annotations

import construct as cs

from protocol.schema import NULL, Field, MessageSpec, default_value, new

API_KEY = 0

REQUEST = MessageSpec(
    name="ProduceRequest",
    api_key=API_KEY,
    valid="3-13",
    flexible="9+",
    fields=(
        Field("TransactionalId", "string", "3+", nullable="3+", default=NULL),
        Field("Acks", "int16", "0+"),
        Field("TimeoutMs", "int32", "0+"),
        Field(
            "TopicData",
            "[]TopicProduceData",
            "0+",
            fields=(
                Field("Name", "string", "0-12"),
                Field("TopicId", "uuid", "13+"),
                Field(
                    "PartitionData",
                    "[]PartitionProduceData",
                    "0+",
                    fields=(
                        Field("Index", "int32", "0+"),
                        Field("Records", "records", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)

_PARTITION_RESPONSE = Field(
    "PartitionResponses",
    "[]PartitionProduceResponse",
    "0+",
    fields=(
        Field("Index", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("BaseOffset", "int64", "0+"),
        Field("LogAppendTimeMs", "int64", "2+", default=-1),
        Field("LogStartOffset", "int64", "5+", default=-1),
        Field(
            "RecordErrors",
            "[]BatchIndexAndErrorMessage",
            "8+",
            fields=(
                Field("BatchIndex", "int32", "8+"),
                Field("BatchIndexErrorMessage", "string", "8+", nullable="8+", default=NULL),
            ),
        ),
        Field("ErrorMessage", "string", "8+", nullable="8+", default=NULL),
        Field(
            "CurrentLeader",
            "LeaderIdAndEpoch",
            "10+",
            tag=0,
            tagged="10+",
            fields=(
                Field("LeaderId", "int32", "10+", default=-1),
                Field("LeaderEpoch", "int32", "10+", default=-1),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="ProduceResponse",
    api_key=API_KEY,
    valid="3-13",
    flexible="9+",
    fields=(
        Field(
            "Responses",
            "[]TopicProduceResponse",
            "0+",
            fields=(
                Field("Name", "string", "0-12"),
                Field("TopicId", "uuid", "13+"),
                _PARTITION_RESPONSE,
            ),
        ),
        Field("ThrottleTimeMs", "int32", "1+"),
        Field(
            "NodeEndpoints",
            "[]NodeEndpoint",
            "10+",
            tag=0,
            tagged="10+",
            fields=(
                Field("NodeId", "int32", "10+"),
                Field("Host", "string", "10+"),
                Field("Port", "int32", "10+"),
                Field("Rack", "string", "10+", nullable="10+", default=NULL),
            ),
        ),
    ),
)


def failed_response(request: cs.Container, version: int, error_code: int) -> cs.Container:
    """A response failing every partition of `request` with `error_code` and no leader hints."""
    topics = [_failed_topic(topic, version, error_code) for topic in request.TopicData]
    return new(RESPONSE, version, Responses=topics, ThrottleTimeMs=0)


def _failed_topic(topic: cs.Container, version: int, error_code: int) -> cs.Container:
    partitions = [_failed_partition(p.Index, version, error_code) for p in topic.PartitionData]
    entry = cs.Container(TopicId=topic.TopicId) if version >= 13 else cs.Container(Name=topic.Name)
    entry.PartitionResponses = partitions
    return entry


def _failed_partition(index: int, version: int, error_code: int) -> cs.Container:
    partition = default_value(_PARTITION_RESPONSE.fields, version)
    partition.update({"Index": index, "ErrorCode": error_code, "BaseOffset": -1})
    return partition
