"""DescribeLogDirs (key 35): log directories and partition sizes of the broker that receives it.

The request is node-targeted: the proxy sends it to the real broker behind the virtual node the
client connected to. A null Topics asks for every partition.
"""

from __future__ import annotations

from protocol.schema import Field, MessageSpec

API_KEY = 35

REQUEST = MessageSpec(
    name="DescribeLogDirsRequest",
    api_key=API_KEY,
    valid="1-5",
    flexible="2+",
    fields=(
        Field(
            "Topics",
            "[]DescribableLogDirTopic",
            "0+",
            nullable="0+",
            fields=(
                Field("Topic", "string", "0+"),
                Field("Partitions", "[]int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = MessageSpec(
    name="DescribeLogDirsResponse",
    api_key=API_KEY,
    valid="1-5",
    flexible="2+",
    fields=(
        Field("ThrottleTimeMs", "int32", "0+"),
        Field("ErrorCode", "int16", "3+"),
        Field(
            "Results",
            "[]DescribeLogDirsResult",
            "0+",
            fields=(
                Field("ErrorCode", "int16", "0+"),
                Field("LogDir", "string", "0+"),
                Field(
                    "Topics",
                    "[]DescribeLogDirsTopic",
                    "0+",
                    fields=(
                        Field("Name", "string", "0+"),
                        Field(
                            "Partitions",
                            "[]DescribeLogDirsPartition",
                            "0+",
                            fields=(
                                Field("PartitionIndex", "int32", "0+"),
                                Field("PartitionSize", "int64", "0+"),
                                Field("OffsetLag", "int64", "0+"),
                                Field("IsFutureKey", "bool", "0+"),
                            ),
                        ),
                    ),
                ),
                Field("TotalBytes", "int64", "4+", default=-1),
                Field("UsableBytes", "int64", "4+", default=-1),
                Field("IsCordoned", "bool", "5+"),
            ),
        ),
    ),
)
