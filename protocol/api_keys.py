"""Every API key a Kafka 4.4 broker knows, with the version ranges a 4.4.0 broker serves.

Transcribed from the official message schemas in kafka-clients 4.4.0 (`common/message/*Request.json`:
`apiKey`, `validVersions`, `flexibleVersions`, `latestVersionUnstable`, `listeners`);
`tests/unit/protocol/test_api_keys.py` re-reads the jar and compares every entry.

Three rules turn the schemas into what a broker advertises in ApiVersions:

- A version marked `latestVersionUnstable` is not advertised (it needs `unstable.api.versions.enable`),
  so `max_version` is one below the schema's last version and `unstable_version` records the hidden one.
- Produce is advertised from v0 although v0-2 are rejected (KAFKA-18659: librdkafka turns compression
  off when Produce v0 is missing). `min_version` is what is advertised, `min_served_version` what is
  actually accepted.
- Only APIs whose `listeners` include `broker` are advertised by a broker; controller-only APIs (Vote,
  BrokerHeartbeat, ...) are in the table with `broker=False` so that every key can still be named.

Keys 4-7 (LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown) lost all their versions in 4.0:
they stay in `ApiKey` (Kafka keeps them reserved) but have no `API_TABLE` entry. A real broker can also
leave out APIs gated by features or configuration (telemetry without a telemetry reporter, share or
streams groups when their feature is off): what a live cluster advertises is the final word.

Header versions follow `ApiMessageTypeGenerator`: a flexible API version uses request header v2 and
response header v1, except that ApiVersions responses always use response header v0 (KIP-511), so a
client can read the error of a version it asked for but the broker does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from protocol.errors import UnsupportedVersion


class ApiKey(IntEnum):
    """Kafka API keys, named as in Java's `ApiKeys`."""

    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    LEADER_AND_ISR = 4
    STOP_REPLICA = 5
    UPDATE_METADATA = 6
    CONTROLLED_SHUTDOWN = 7
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    OFFSET_FOR_LEADER_EPOCH = 23
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    WRITE_TXN_MARKERS = 27
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    ALTER_REPLICA_LOG_DIRS = 34
    DESCRIBE_LOG_DIRS = 35
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    CREATE_DELEGATION_TOKEN = 38
    RENEW_DELEGATION_TOKEN = 39
    EXPIRE_DELEGATION_TOKEN = 40
    DESCRIBE_DELEGATION_TOKEN = 41
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    ALTER_PARTITION_REASSIGNMENTS = 45
    LIST_PARTITION_REASSIGNMENTS = 46
    OFFSET_DELETE = 47
    DESCRIBE_CLIENT_QUOTAS = 48
    ALTER_CLIENT_QUOTAS = 49
    DESCRIBE_USER_SCRAM_CREDENTIALS = 50
    ALTER_USER_SCRAM_CREDENTIALS = 51
    VOTE = 52
    BEGIN_QUORUM_EPOCH = 53
    END_QUORUM_EPOCH = 54
    DESCRIBE_QUORUM = 55
    ALTER_PARTITION = 56
    UPDATE_FEATURES = 57
    ENVELOPE = 58
    FETCH_SNAPSHOT = 59
    DESCRIBE_CLUSTER = 60
    DESCRIBE_PRODUCERS = 61
    BROKER_REGISTRATION = 62
    BROKER_HEARTBEAT = 63
    UNREGISTER_BROKER = 64
    DESCRIBE_TRANSACTIONS = 65
    LIST_TRANSACTIONS = 66
    ALLOCATE_PRODUCER_IDS = 67
    CONSUMER_GROUP_HEARTBEAT = 68
    CONSUMER_GROUP_DESCRIBE = 69
    CONTROLLER_REGISTRATION = 70
    GET_TELEMETRY_SUBSCRIPTIONS = 71
    PUSH_TELEMETRY = 72
    ASSIGN_REPLICAS_TO_DIRS = 73
    LIST_CONFIG_RESOURCES = 74
    DESCRIBE_TOPIC_PARTITIONS = 75
    SHARE_GROUP_HEARTBEAT = 76
    SHARE_GROUP_DESCRIBE = 77
    SHARE_FETCH = 78
    SHARE_ACKNOWLEDGE = 79
    ADD_RAFT_VOTER = 80
    REMOVE_RAFT_VOTER = 81
    UPDATE_RAFT_VOTER = 82
    INITIALIZE_SHARE_GROUP_STATE = 83
    READ_SHARE_GROUP_STATE = 84
    WRITE_SHARE_GROUP_STATE = 85
    DELETE_SHARE_GROUP_STATE = 86
    READ_SHARE_GROUP_STATE_SUMMARY = 87
    STREAMS_GROUP_HEARTBEAT = 88
    STREAMS_GROUP_DESCRIBE = 89
    DESCRIBE_SHARE_GROUP_OFFSETS = 90
    ALTER_SHARE_GROUP_OFFSETS = 91
    DELETE_SHARE_GROUP_OFFSETS = 92
    STREAMS_GROUP_TOPOLOGY_DESCRIPTION_UPDATE = 93
    UNREGISTER_CONTROLLER = 94


@dataclass(frozen=True, slots=True)
class ApiInfo:
    """One API as a 4.4.0 broker serves it (see the module docstring for the three rules)."""

    name: str
    min_version: int
    max_version: int
    first_flexible_version: int | None
    broker: bool = True
    controller: bool = False
    min_served_version: int | None = None
    unstable_version: int | None = None

    @property
    def lowest_served(self) -> int:
        """The lowest version a broker really accepts (differs from `min_version` only for Produce)."""
        return self.min_version if self.min_served_version is None else self.min_served_version

    def is_flexible(self, version: int) -> bool:
        """Whether `version` uses the KIP-482 compact encoding (any version, also beyond the range)."""
        return self.first_flexible_version is not None and version >= self.first_flexible_version


API_TABLE: dict[int, ApiInfo] = {
    ApiKey.PRODUCE: ApiInfo("Produce", 0, 13, 9, min_served_version=3),
    ApiKey.FETCH: ApiInfo("Fetch", 4, 18, 12, controller=True),
    ApiKey.LIST_OFFSETS: ApiInfo("ListOffsets", 1, 11, 6),
    ApiKey.METADATA: ApiInfo("Metadata", 0, 13, 9),
    ApiKey.OFFSET_COMMIT: ApiInfo("OffsetCommit", 2, 10, 8),
    ApiKey.OFFSET_FETCH: ApiInfo("OffsetFetch", 1, 10, 6),
    ApiKey.FIND_COORDINATOR: ApiInfo("FindCoordinator", 0, 6, 3),
    ApiKey.JOIN_GROUP: ApiInfo("JoinGroup", 0, 9, 6),
    ApiKey.HEARTBEAT: ApiInfo("Heartbeat", 0, 4, 4),
    ApiKey.LEAVE_GROUP: ApiInfo("LeaveGroup", 0, 5, 4),
    ApiKey.SYNC_GROUP: ApiInfo("SyncGroup", 0, 5, 4),
    ApiKey.DESCRIBE_GROUPS: ApiInfo("DescribeGroups", 0, 6, 5),
    ApiKey.LIST_GROUPS: ApiInfo("ListGroups", 0, 5, 3),
    ApiKey.SASL_HANDSHAKE: ApiInfo("SaslHandshake", 0, 1, None, controller=True),
    ApiKey.API_VERSIONS: ApiInfo("ApiVersions", 0, 5, 3, controller=True),
    ApiKey.CREATE_TOPICS: ApiInfo("CreateTopics", 2, 7, 5, controller=True),
    ApiKey.DELETE_TOPICS: ApiInfo("DeleteTopics", 1, 6, 4, controller=True),
    ApiKey.DELETE_RECORDS: ApiInfo("DeleteRecords", 0, 2, 2),
    ApiKey.INIT_PRODUCER_ID: ApiInfo("InitProducerId", 0, 5, 2, unstable_version=6),
    ApiKey.OFFSET_FOR_LEADER_EPOCH: ApiInfo("OffsetForLeaderEpoch", 2, 4, 4),
    ApiKey.ADD_PARTITIONS_TO_TXN: ApiInfo("AddPartitionsToTxn", 0, 5, 3),
    ApiKey.ADD_OFFSETS_TO_TXN: ApiInfo("AddOffsetsToTxn", 0, 4, 3),
    ApiKey.END_TXN: ApiInfo("EndTxn", 0, 5, 3),
    ApiKey.WRITE_TXN_MARKERS: ApiInfo("WriteTxnMarkers", 1, 2, 1),
    ApiKey.TXN_OFFSET_COMMIT: ApiInfo("TxnOffsetCommit", 0, 6, 3),
    ApiKey.DESCRIBE_ACLS: ApiInfo("DescribeAcls", 1, 3, 2, controller=True),
    ApiKey.CREATE_ACLS: ApiInfo("CreateAcls", 1, 3, 2, controller=True),
    ApiKey.DELETE_ACLS: ApiInfo("DeleteAcls", 1, 3, 2, controller=True),
    ApiKey.DESCRIBE_CONFIGS: ApiInfo("DescribeConfigs", 1, 4, 4, controller=True),
    ApiKey.ALTER_CONFIGS: ApiInfo("AlterConfigs", 0, 2, 2, controller=True),
    ApiKey.ALTER_REPLICA_LOG_DIRS: ApiInfo("AlterReplicaLogDirs", 1, 2, 2),
    ApiKey.DESCRIBE_LOG_DIRS: ApiInfo("DescribeLogDirs", 1, 5, 2),
    ApiKey.SASL_AUTHENTICATE: ApiInfo("SaslAuthenticate", 0, 2, 2, controller=True),
    ApiKey.CREATE_PARTITIONS: ApiInfo("CreatePartitions", 0, 3, 2, controller=True),
    ApiKey.CREATE_DELEGATION_TOKEN: ApiInfo("CreateDelegationToken", 1, 3, 2, controller=True),
    ApiKey.RENEW_DELEGATION_TOKEN: ApiInfo("RenewDelegationToken", 1, 2, 2, controller=True),
    ApiKey.EXPIRE_DELEGATION_TOKEN: ApiInfo("ExpireDelegationToken", 1, 2, 2, controller=True),
    ApiKey.DESCRIBE_DELEGATION_TOKEN: ApiInfo("DescribeDelegationToken", 1, 3, 2, controller=True),
    ApiKey.DELETE_GROUPS: ApiInfo("DeleteGroups", 0, 3, 2),
    ApiKey.ELECT_LEADERS: ApiInfo("ElectLeaders", 0, 2, 2, controller=True),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: ApiInfo("IncrementalAlterConfigs", 0, 1, 1, controller=True),
    ApiKey.ALTER_PARTITION_REASSIGNMENTS: ApiInfo("AlterPartitionReassignments", 0, 1, 0, controller=True),
    ApiKey.LIST_PARTITION_REASSIGNMENTS: ApiInfo("ListPartitionReassignments", 0, 0, 0, controller=True),
    ApiKey.OFFSET_DELETE: ApiInfo("OffsetDelete", 0, 0, None),
    ApiKey.DESCRIBE_CLIENT_QUOTAS: ApiInfo("DescribeClientQuotas", 0, 1, 1),
    ApiKey.ALTER_CLIENT_QUOTAS: ApiInfo("AlterClientQuotas", 0, 1, 1, controller=True),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: ApiInfo("DescribeUserScramCredentials", 0, 0, 0, controller=True),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: ApiInfo("AlterUserScramCredentials", 0, 0, 0, controller=True),
    ApiKey.VOTE: ApiInfo("Vote", 0, 2, 0, broker=False, controller=True),
    ApiKey.BEGIN_QUORUM_EPOCH: ApiInfo("BeginQuorumEpoch", 0, 1, 1, broker=False, controller=True),
    ApiKey.END_QUORUM_EPOCH: ApiInfo("EndQuorumEpoch", 0, 1, 1, broker=False, controller=True),
    ApiKey.DESCRIBE_QUORUM: ApiInfo("DescribeQuorum", 0, 2, 0, controller=True),
    ApiKey.ALTER_PARTITION: ApiInfo("AlterPartition", 2, 3, 0, broker=False, controller=True),
    ApiKey.UPDATE_FEATURES: ApiInfo("UpdateFeatures", 0, 2, 0, controller=True),
    ApiKey.ENVELOPE: ApiInfo("Envelope", 0, 0, 0, broker=False, controller=True),
    ApiKey.FETCH_SNAPSHOT: ApiInfo("FetchSnapshot", 0, 1, 0, broker=False, controller=True),
    ApiKey.DESCRIBE_CLUSTER: ApiInfo("DescribeCluster", 0, 2, 0, controller=True),
    ApiKey.DESCRIBE_PRODUCERS: ApiInfo("DescribeProducers", 0, 0, 0),
    ApiKey.BROKER_REGISTRATION: ApiInfo("BrokerRegistration", 0, 4, 0, broker=False, controller=True),
    ApiKey.BROKER_HEARTBEAT: ApiInfo("BrokerHeartbeat", 0, 2, 0, broker=False, controller=True),
    ApiKey.UNREGISTER_BROKER: ApiInfo("UnregisterBroker", 0, 0, 0, controller=True),
    ApiKey.DESCRIBE_TRANSACTIONS: ApiInfo("DescribeTransactions", 0, 0, 0),
    ApiKey.LIST_TRANSACTIONS: ApiInfo("ListTransactions", 0, 2, 0),
    ApiKey.ALLOCATE_PRODUCER_IDS: ApiInfo("AllocateProducerIds", 0, 0, 0, broker=False, controller=True),
    ApiKey.CONSUMER_GROUP_HEARTBEAT: ApiInfo("ConsumerGroupHeartbeat", 0, 1, 0),
    ApiKey.CONSUMER_GROUP_DESCRIBE: ApiInfo("ConsumerGroupDescribe", 0, 1, 0),
    ApiKey.CONTROLLER_REGISTRATION: ApiInfo("ControllerRegistration", 0, 0, 0, broker=False, controller=True),
    ApiKey.GET_TELEMETRY_SUBSCRIPTIONS: ApiInfo("GetTelemetrySubscriptions", 0, 0, 0),
    ApiKey.PUSH_TELEMETRY: ApiInfo("PushTelemetry", 0, 0, 0),
    ApiKey.ASSIGN_REPLICAS_TO_DIRS: ApiInfo("AssignReplicasToDirs", 0, 0, 0, broker=False, controller=True),
    ApiKey.LIST_CONFIG_RESOURCES: ApiInfo("ListConfigResources", 0, 1, 0),
    ApiKey.DESCRIBE_TOPIC_PARTITIONS: ApiInfo("DescribeTopicPartitions", 0, 0, 0),
    ApiKey.SHARE_GROUP_HEARTBEAT: ApiInfo("ShareGroupHeartbeat", 1, 1, 0),
    ApiKey.SHARE_GROUP_DESCRIBE: ApiInfo("ShareGroupDescribe", 1, 1, 0),
    ApiKey.SHARE_FETCH: ApiInfo("ShareFetch", 1, 2, 0),
    ApiKey.SHARE_ACKNOWLEDGE: ApiInfo("ShareAcknowledge", 1, 2, 0),
    ApiKey.ADD_RAFT_VOTER: ApiInfo("AddRaftVoter", 0, 1, 0, controller=True),
    ApiKey.REMOVE_RAFT_VOTER: ApiInfo("RemoveRaftVoter", 0, 0, 0, controller=True),
    ApiKey.UPDATE_RAFT_VOTER: ApiInfo("UpdateRaftVoter", 0, 0, 0, broker=False, controller=True),
    ApiKey.INITIALIZE_SHARE_GROUP_STATE: ApiInfo("InitializeShareGroupState", 0, 0, 0),
    ApiKey.READ_SHARE_GROUP_STATE: ApiInfo("ReadShareGroupState", 0, 0, 0),
    ApiKey.WRITE_SHARE_GROUP_STATE: ApiInfo("WriteShareGroupState", 0, 1, 0),
    ApiKey.DELETE_SHARE_GROUP_STATE: ApiInfo("DeleteShareGroupState", 0, 0, 0),
    ApiKey.READ_SHARE_GROUP_STATE_SUMMARY: ApiInfo("ReadShareGroupStateSummary", 0, 1, 0),
    ApiKey.STREAMS_GROUP_HEARTBEAT: ApiInfo("StreamsGroupHeartbeat", 0, 1, 0),
    ApiKey.STREAMS_GROUP_DESCRIBE: ApiInfo("StreamsGroupDescribe", 0, 1, 0),
    ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS: ApiInfo("DescribeShareGroupOffsets", 0, 1, 0),
    ApiKey.ALTER_SHARE_GROUP_OFFSETS: ApiInfo("AlterShareGroupOffsets", 0, 0, 0),
    ApiKey.DELETE_SHARE_GROUP_OFFSETS: ApiInfo("DeleteShareGroupOffsets", 0, 0, 0),
    ApiKey.STREAMS_GROUP_TOPOLOGY_DESCRIPTION_UPDATE: ApiInfo(
        "StreamsGroupTopologyDescriptionUpdate", 0, 0, 0
    ),
    ApiKey.UNREGISTER_CONTROLLER: ApiInfo("UnregisterController", 0, 0, 0, controller=True),
}

BROKER_API_KEYS: frozenset[int] = frozenset(key for key, info in API_TABLE.items() if info.broker)


def _info(api_key: int, api_version: int) -> ApiInfo:
    info = API_TABLE.get(api_key)
    if info is None:
        raise UnsupportedVersion(f"api key {api_key}", api_version)
    return info


def is_flexible(api_key: int, api_version: int) -> bool:
    """Whether this API version uses compact encodings and tagged fields; unknown keys raise."""
    return _info(api_key, api_version).is_flexible(api_version)


def request_header_version(api_key: int, api_version: int) -> int:
    """Request header version: 2 for a flexible API version, else 1 (v0 left Kafka with 4.0)."""
    return 2 if is_flexible(api_key, api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """Response header version: 1 for a flexible API version, else 0; ApiVersions is always 0."""
    if api_key == ApiKey.API_VERSIONS:
        return 0
    return 1 if is_flexible(api_key, api_version) else 0
