"""Which frames the proxy must decode, and the rewrite for each.

The hot path never decodes a body unless this table says so (kroxylicious' DecodePredicate):
responses that carry broker addresses, node ids, cluster ids or leader epochs, and the few requests
that name a broker. Rewriters take a decoded body, change it in place and report nothing; the
caller encodes it again at the same version.
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
from proxy.dataplane.virtual_cluster import NodeMapper

Rewriter = Callable[[Any, int, NodeMapper], Any]

RESPONSE_REWRITERS: dict[int, Rewriter] = {
    0: rewrite_produce,
    1: rewrite_fetch,
    3: rewrite_metadata,
    10: rewrite_find_coordinator,
    32: rewrite_describe_configs_response,
    60: rewrite_describe_cluster,
    75: rewrite_describe_topic_partitions,
    78: rewrite_share,
    79: rewrite_share,
}

# Versions below these carry nothing to rewrite (no KIP-951 hints, no preferred replica).
_FIRST_REWRITTEN_VERSION = {0: 10, 1: 11}

REQUEST_REWRITERS: dict[int, Rewriter] = {
    32: rewrite_config_request,  # DescribeConfigs
    33: rewrite_config_request,  # AlterConfigs
    44: rewrite_config_request,  # IncrementalAlterConfigs
}


def response_needs_rewrite(api_key: int, api_version: int) -> bool:
    return api_key in RESPONSE_REWRITERS and api_version >= _FIRST_REWRITTEN_VERSION.get(api_key, 0)


def request_needs_rewrite(api_key: int) -> bool:
    return api_key in REQUEST_REWRITERS
