"""ShareFetch (key 78): share-group consumers (KIP-932) fetch and acknowledge records in one call.

Topics are named by id only. The response always carries a CurrentLeader per partition and
NodeEndpoints for the leaders it names, so both are mapped to virtual nodes. v0 was an early-access
version that 4.4 no longer serves.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 78

_ACKNOWLEDGEMENT_BATCH = (
    Field("FirstOffset", "int64", "0+"),
    Field("LastOffset", "int64", "0+"),
    Field("AcknowledgeTypes", "[]int8", "0+"),
)

REQUEST = MessageSpec(
    name="ShareFetchRequest",
    api_key=API_KEY,
    valid="1-2",
    flexible="0+",
    fields=(
        Field("GroupId", "string", "0+", nullable="0+", default=NULL),
        Field("MemberId", "string", "0+", nullable="0+"),
        Field("ShareSessionEpoch", "int32", "0+"),
        Field("MaxWaitMs", "int32", "0+"),
        Field("MinBytes", "int32", "0+"),
        Field("MaxBytes", "int32", "0+", default=0x7FFFFFFF),
        Field("MaxRecords", "int32", "1+"),
        Field("BatchSize", "int32", "1+"),
        Field("ShareAcquireMode", "int8", "2+"),
        Field("IsRenewAck", "bool", "2+"),
        Field(
            "Topics",
            "[]FetchTopic",
            "0+",
            fields=(
                Field("TopicId", "uuid", "0+"),
                Field(
                    "Partitions",
                    "[]FetchPartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("PartitionMaxBytes", "int32", "0"),
                        Field(
                            "AcknowledgementBatches",
                            "[]AcknowledgementBatch",
                            "0+",
                            fields=_ACKNOWLEDGEMENT_BATCH,
                        ),
                    ),
                ),
            ),
        ),
        Field(
            "ForgottenTopicsData",
            "[]ForgottenTopic",
            "0+",
            fields=(
                Field("TopicId", "uuid", "0+"),
                Field("Partitions", "[]int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="ShareFetchResponse",
    api_key=API_KEY,
    valid="1-2",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
        Field("AcquisitionLockTimeoutMs", "int32", "1+"),
        Field(
            "Responses",
            "[]ShareFetchableTopicResponse",
            "0+",
            fields=(
                Field("TopicId", "uuid", "0+"),
                Field(
                    "Partitions",
                    "[]PartitionData",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field("ErrorCode", "int16", "0+"),
                        Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
                        Field("AcknowledgeErrorCode", "int16", "0+"),
                        Field("AcknowledgeErrorMessage", "string", "0+", nullable="0+", default=NULL),
                        Field(
                            "CurrentLeader",
                            "LeaderIdAndEpoch",
                            "0+",
                            fields=(
                                Field("LeaderId", "int32", "0+"),
                                Field("LeaderEpoch", "int32", "0+"),
                            ),
                        ),
                        Field("Records", "records", "0+", nullable="0"),
                        Field(
                            "AcquiredRecords",
                            "[]AcquiredRecords",
                            "0+",
                            fields=(
                                Field("FirstOffset", "int64", "0+"),
                                Field("LastOffset", "int64", "0+"),
                                Field("DeliveryCount", "int16", "0+"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        Field(
            "NodeEndpoints",
            "[]NodeEndpoint",
            "0+",
            fields=(
                Field("NodeId", "int32", "0+"),
                Field("Host", "string", "0+"),
                Field("Port", "int32", "0+"),
                Field("Rack", "string", "0+", nullable="0+", default=NULL),
            ),
        ),
    ),
)
