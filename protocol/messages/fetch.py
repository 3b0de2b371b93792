"""Fetch (key 1): consumers and followers read record batches.

Records stay opaque bytes. The response carries broker identities the proxy must map:
PreferredReadReplica (v11+, KIP-392), a tagged CurrentLeader per partition (v12+) and tagged
NodeEndpoints (v16+, KIP-951). v12+ fetch sessions (SessionId/SessionEpoch) belong to one broker,
so a synthetic answer always closes the session (SessionId 0) and the client falls back to a full
fetch. v13 names topics by TopicId.

`empty_response` and `error_response` answer without asking a broker, e.g. while switching.
"""

from __future__ import annotations

import construct as cs

from protocol.errors import LocalProtocolError
from protocol.schema import NULL, Field, MessageSpec, default_value, new

API_KEY = 1

REQUEST = MessageSpec(
    name="FetchRequest",
    api_key=API_KEY,
    valid="4-18",
    flexible="12+",
    fields=(
        Field("ClusterId", "string", "12+", nullable="12+", tag=0, tagged="12+", default=NULL),
        Field("ReplicaId", "int32", "0-14", default=-1),
        Field(
            "ReplicaState",
            "ReplicaState",
            "15+",
            tag=1,
            tagged="15+",
            fields=(
                Field("ReplicaId", "int32", "15+", default=-1),
                Field("ReplicaEpoch", "int64", "15+", default=-1),
            ),
        ),
        Field("MaxWaitMs", "int32", "0+"),
        Field("MinBytes", "int32", "0+"),
        Field("MaxBytes", "int32", "3+", default=0x7FFFFFFF),
        Field("IsolationLevel", "int8", "4+"),
        Field("SessionId", "int32", "7+"),
        Field("SessionEpoch", "int32", "7+", default=-1),
        Field(
            "Topics",
            "[]FetchTopic",
            "0+",
            fields=(
                Field("Topic", "string", "0-12"),
                Field("TopicId", "uuid", "13+"),
                Field(
                    "Partitions",
                    "[]FetchPartition",
                    "0+",
                    fields=(
                        Field("Partition", "int32", "0+"),
                        Field("CurrentLeaderEpoch", "int32", "9+", default=-1),
                        Field("FetchOffset", "int64", "0+"),
                        Field("LastFetchedEpoch", "int32", "12+", default=-1),
                        Field("LogStartOffset", "int64", "5+", default=-1),
                        Field("PartitionMaxBytes", "int32", "0+"),
                        Field("ReplicaDirectoryId", "uuid", "17+", tag=0, tagged="17+"),
                        Field(
                            "HighWatermark", "int64", "18+", tag=1, tagged="18+", default=0x7FFFFFFFFFFFFFFF
                        ),
                    ),
                ),
            ),
        ),
        Field(
            "ForgottenTopicsData",
            "[]ForgottenTopic",
            "7+",
            fields=(
                Field("Topic", "string", "7-12"),
                Field("TopicId", "uuid", "13+"),
                Field("Partitions", "[]int32", "7+"),
            ),
        ),
        Field("RackId", "string", "11+"),
    ),
)

_PARTITION_DATA = Field(
    "Partitions",
    "[]PartitionData",
    "0+",
    fields=(
        Field("PartitionIndex", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("HighWatermark", "int64", "0+"),
        Field("LastStableOffset", "int64", "4+", default=-1),
        Field("LogStartOffset", "int64", "5+", default=-1),
        Field(
            "DivergingEpoch",
            "EpochEndOffset",
            "12+",
            tag=0,
            tagged="12+",
            fields=(
                Field("Epoch", "int32", "12+", default=-1),
                Field("EndOffset", "int64", "12+", default=-1),
            ),
        ),
        Field(
            "CurrentLeader",
            "LeaderIdAndEpoch",
            "12+",
            tag=1,
            tagged="12+",
            fields=(
                Field("LeaderId", "int32", "12+", default=-1),
                Field("LeaderEpoch", "int32", "12+", default=-1),
            ),
        ),
        Field(
            "SnapshotId",
            "SnapshotId",
            "12+",
            tag=2,
            tagged="12+",
            fields=(
                Field("EndOffset", "int64", "0+", default=-1),
                Field("Epoch", "int32", "0+", default=-1),
            ),
        ),
        Field(
            "AbortedTransactions",
            "[]AbortedTransaction",
            "4+",
            nullable="4+",
            fields=(
                Field("ProducerId", "int64", "4+"),
                Field("FirstOffset", "int64", "4+"),
            ),
        ),
        Field("PreferredReadReplica", "int32", "11+", default=-1),
        Field("Records", "records", "0+", nullable="0+"),
    ),
)

RESPONSE = MessageSpec(
    name="FetchResponse",
    api_key=API_KEY,
    valid="4-18",
    flexible="12+",
    fields=(
        Field("ThrottleTimeMs", "int32", "1+"),
        Field("ErrorCode", "int16", "7+"),
        Field("SessionId", "int32", "7+"),
        Field(
            "Responses",
            "[]FetchableTopicResponse",
            "0+",
            fields=(
                Field("Topic", "string", "0-12"),
                Field("TopicId", "uuid", "13+"),
                _PARTITION_DATA,
            ),
        ),
        Field(
            "NodeEndpoints",
            "[]NodeEndpoint",
            "16+",
            tag=0,
            tagged="16+",
            fields=(
                Field("NodeId", "int32", "16+"),
                Field("Host", "string", "16+"),
                Field("Port", "int32", "16+"),
                Field("Rack", "string", "16+", nullable="16+", default=NULL),
            ),
        ),
    ),
)

FIRST_TOP_LEVEL_ERROR = 7  # the first version with a top-level ErrorCode


def empty_response(request: cs.Container, version: int, error_code: int = 0) -> cs.Container:
    """Every requested partition answered with `error_code`, no records and unknown (-1) offsets.

    Offsets are -1 even without an error: clients ignore negative watermarks instead of moving
    their view of the log, and the next real fetch brings the true values.
    """
    topics = [_empty_topic(topic, version, error_code) for topic in request.Topics]
    return new(RESPONSE, version, Responses=topics)


def error_response(version: int, error_code: int) -> cs.Container:
    """A response with only the top-level error and SessionId 0 (v7+; older versions lack the field)."""
    if version < FIRST_TOP_LEVEL_ERROR:
        raise LocalProtocolError(f"FetchResponse v{version} has no top-level ErrorCode")
    return new(RESPONSE, version, ErrorCode=error_code)


def _empty_topic(topic: cs.Container, version: int, error_code: int) -> cs.Container:
    partitions = [_empty_partition(p.Partition, version, error_code) for p in topic.Partitions]
    entry = cs.Container(TopicId=topic.TopicId) if version >= 13 else cs.Container(Topic=topic.Topic)
    entry.Partitions = partitions
    return entry


def _empty_partition(index: int, version: int, error_code: int) -> cs.Container:
    partition = default_value(_PARTITION_DATA.fields, version)
    partition.update({
        "PartitionIndex": index,
        "ErrorCode": error_code,
        "HighWatermark": -1,
        "AbortedTransactions": None,
        "Records": b"",
    })
    return partition
