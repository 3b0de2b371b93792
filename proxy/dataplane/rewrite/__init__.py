"""Which frames the proxy must decode, and the rewrite for each.

The hot path never decodes a body unless this table says so (kroxylicious' DecodePredicate):
responses that carry broker addresses, node ids, cluster ids, leader epochs or topic ids, and the
requests that name a broker or a topic id. Rewriters take a decoded body and change it in place; a
request rewriter reports whether it changed anything. The caller encodes it again at the same
version. Produce, Fetch and Metadata topic ids are not here: protocol.patch.topic_ids rewrites them
in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.dataplane.rewrite.addresses import (
    rewrite_describe_cluster,
    rewrite_describe_topic_partitions,
    rewrite_find_coordinator,
    rewrite_metadata,
)
from proxy.dataplane.rewrite.leaders import rewrite_fetch, rewrite_produce, rewrite_share
from proxy.dataplane.rewrite.node_targets import rewrite_config_request, rewrite_describe_configs_response
from proxy.dataplane.rewrite.topic_ids import request_ids_to_real, response_ids_to_virtual
from proxy.dataplane.virtual_cluster import NodeMapper

Rewriter = Callable[[Any, int, NodeMapper], Any]


def _both(first: Rewriter, second: Rewriter) -> Rewriter:
    def rewrite(msg: Any, version: int, mapper: NodeMapper) -> bool:
        return bool(first(msg, version, mapper)) | bool(second(msg, version, mapper))
    return rewrite


RESPONSE_REWRITERS: dict[int, Rewriter] = {
    0: rewrite_produce,
    1: rewrite_fetch,
    3: rewrite_metadata,
    8: response_ids_to_virtual,  # OffsetCommit v10
    9: response_ids_to_virtual,  # OffsetFetch v10
    10: rewrite_find_coordinator,
    32: rewrite_describe_configs_response,
    60: rewrite_describe_cluster,
    68: response_ids_to_virtual,  # ConsumerGroupHeartbeat assignment
    69: response_ids_to_virtual,  # ConsumerGroupDescribe assignments
    75: _both(rewrite_describe_topic_partitions, response_ids_to_virtual),
    76: response_ids_to_virtual,  # ShareGroupHeartbeat assignment
    77: response_ids_to_virtual,  # ShareGroupDescribe assignments
    78: _both(rewrite_share, response_ids_to_virtual),
    79: _both(rewrite_share, response_ids_to_virtual),
}

# Versions below these carry nothing to rewrite (no KIP-951 hints, no preferred replica, no topic id).
_FIRST_REWRITTEN_VERSION = {0: 10, 1: 11, 8: 10, 9: 10}

REQUEST_REWRITERS: dict[int, Rewriter] = {
    8: request_ids_to_real,  # OffsetCommit v10
    9: request_ids_to_real,  # OffsetFetch v10
    32: rewrite_config_request,  # DescribeConfigs
    33: rewrite_config_request,  # AlterConfigs
    44: rewrite_config_request,  # IncrementalAlterConfigs
    68: request_ids_to_real,  # ConsumerGroupHeartbeat owned partitions
    78: request_ids_to_real,  # ShareFetch
    79: request_ids_to_real,  # ShareAcknowledge
}
_FIRST_REWRITTEN_REQUEST = {8: 10, 9: 10}


def response_needs_rewrite(api_key: int, api_version: int) -> bool:
    return api_key in RESPONSE_REWRITERS and api_version >= _FIRST_REWRITTEN_VERSION.get(api_key, 0)


def request_needs_rewrite(api_key: int, api_version: int) -> bool:
    return api_key in REQUEST_REWRITERS and api_version >= _FIRST_REWRITTEN_REQUEST.get(api_key, 0)
