"""ShareAcknowledge (key 79): share-group consumers (KIP-932) acknowledge records without fetching.

Like ShareFetch, the response names partition leaders (CurrentLeader) and their NodeEndpoints, which
the proxy maps to virtual nodes.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 79

REQUEST = MessageSpec(
    name="ShareAcknowledgeRequest",
    api_key=API_KEY,
    valid="1-2",
    flexible="0+",
    fields=(
        Field("GroupId", "string", "0+", nullable="0+", default=NULL),
        Field("MemberId", "string", "0+", nullable="0+"),
        Field("ShareSessionEpoch", "int32", "0+"),
        Field("IsRenewAck", "bool", "2+"),
        Field(
            "Topics",
            "[]AcknowledgeTopic",
            "0+",
            fields=(
                Field("TopicId", "uuid", "0+"),
                Field(
                    "Partitions",
                    "[]AcknowledgePartition",
                    "0+",
                    fields=(
                        Field("PartitionIndex", "int32", "0+"),
                        Field(
                            "AcknowledgementBatches",
                            "[]AcknowledgementBatch",
                            "0+",
                            fields=(
                                Field("FirstOffset", "int64", "0+"),
                                Field("LastOffset", "int64", "0+"),
                                Field("AcknowledgeTypes", "[]int8", "0+"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="ShareAcknowledgeResponse",
    api_key=API_KEY,
    valid="1-2",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
        Field("AcquisitionLockTimeoutMs", "int32", "2+"),
        Field(
            "Responses",
            "[]ShareAcknowledgeTopicResponse",
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
                        Field(
                            "CurrentLeader",
                            "LeaderIdAndEpoch",
                            "0+",
                            fields=(
                                Field("LeaderId", "int32", "0+"),
                                Field("LeaderEpoch", "int32", "0+"),
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
