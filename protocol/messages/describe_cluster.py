"""DescribeCluster (key 60): the admin client's view of brokers (or controllers), cluster id and controller.

Like Metadata, every broker address and id in the answer is rewritten to the virtual cluster; v1
adds EndpointType (1 brokers, 2 controllers) and v2 the fenced flag.
"""

from __future__ import annotations

from protocol.schema import NULL, Field, MessageSpec

API_KEY = 60

REQUEST = MessageSpec(
    name="DescribeClusterRequest",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field("IncludeClusterAuthorizedOperations", "bool", "0+"),
        Field("EndpointType", "int8", "1+", default=1),
        Field("IncludeFencedBrokers", "bool", "2+"),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeClusterResponse",
    api_key=API_KEY,
    valid="0-2",
    flexible="0+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "0+"),
        Field("ErrorMessage", "string", "0+", nullable="0+", default=NULL),
        Field("EndpointType", "int8", "1+", default=1),
        Field("ClusterId", "string", "0+"),
        Field("ControllerId", "int32", "0+", default=-1),
        Field(
            "Brokers",
            "[]DescribeClusterBroker",
            "0+",
            fields=(
                Field("BrokerId", "int32", "0+"),
                Field("Host", "string", "0+"),
                Field("Port", "int32", "0+"),
                Field("Rack", "string", "0+", nullable="0+", default=NULL),
                Field("IsFenced", "bool", "2+"),
            ),
        ),
        Field("ClusterAuthorizedOperations", "int32", "0+", default=-2147483648),
    ),
)
