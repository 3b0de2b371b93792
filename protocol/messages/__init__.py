"""One module per Kafka API, each with `API_KEY`, `REQUEST` and `RESPONSE` specs; this is the table.

`MESSAGES` maps an api key to its module; `spec_for` picks the request or response spec, raising
`UnsupportedVersion` (a peer's problem) for an API we do not decode: the proxy forwards those
frames opaquely and never asks.
"""

from __future__ import annotations

from types import ModuleType

from protocol.errors import UnsupportedVersion
from protocol.messages import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    api_versions,
    consumer_group_describe,
    consumer_group_heartbeat,
    describe_acls,
    describe_client_quotas,
    describe_cluster,
    describe_configs,
    describe_log_dirs,
    describe_quorum,
    describe_topic_partitions,
    describe_transactions,
    describe_user_scram_credentials,
    end_txn,
    fetch,
    find_coordinator,
    heartbeat,
    init_producer_id,
    join_group,
    list_offsets,
    list_transactions,
    metadata,
    offset_commit,
    offset_fetch,
    offset_for_leader_epoch,
    produce,
    sasl_authenticate,
    sasl_handshake,
    share_acknowledge,
    share_fetch,
    share_group_describe,
    share_group_heartbeat,
    sync_group,
    txn_offset_commit,
)
from protocol.schema import MessageSpec

MESSAGES: dict[int, ModuleType] = {
    module.API_KEY: module
    for module in (
        add_offsets_to_txn,
        produce,
        fetch,
        list_offsets,
        metadata,
        offset_commit,
        offset_fetch,
        find_coordinator,
        join_group,
        heartbeat,
        sync_group,
        api_versions,
        init_producer_id,
        offset_for_leader_epoch,
        add_partitions_to_txn,
        end_txn,
        txn_offset_commit,
        describe_configs,
        describe_log_dirs,
        describe_quorum,
        describe_cluster,
        describe_transactions,
        list_transactions,
        consumer_group_heartbeat,
        consumer_group_describe,
        describe_topic_partitions,
        share_group_heartbeat,
        share_group_describe,
        share_fetch,
        share_acknowledge,
        describe_acls,
        describe_client_quotas,
        describe_user_scram_credentials,
        sasl_handshake,
        sasl_authenticate,
    )
}


def spec_for(api_key: int, is_request: bool) -> MessageSpec:
    """The request or response spec of `api_key`."""
    module = MESSAGES.get(api_key)
    if module is None:
        raise UnsupportedVersion(f"api key {api_key}", -1)
    spec: MessageSpec = module.REQUEST if is_request else module.RESPONSE
    return spec
