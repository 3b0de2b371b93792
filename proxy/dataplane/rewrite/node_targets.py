"""Broker-addressed config requests, and the broker config values that would reveal real hosts.

Config resources of type BROKER (4) and BROKER_LOGGER (8) are named by broker id: a client names a
virtual id, the upstream wants the real one, and the response must name the virtual one again.
Listener configs describe real endpoints, so their values are masked on the way back.
"""

from __future__ import annotations

from typing import Any

from proxy.dataplane.virtual_cluster import NodeMapper

NODE_RESOURCE_TYPES = frozenset({4, 8})
MASKED_CONFIGS = frozenset({
    "listeners",
    "advertised.listeners",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "listener.security.protocol.map",
})
MASK = "[hidden by kafka-failover-proxy]"


def _swap_name(resource: Any, convert: Any) -> bool:
    if resource.ResourceType not in NODE_RESOURCE_TYPES or not resource.ResourceName:
        return False
    try:
        node = int(resource.ResourceName)
    except ValueError:
        return False
    converted = convert(node)
    if converted is None or converted < 0:
        return False
    resource.ResourceName = str(converted)
    return True


def rewrite_config_request(msg: Any, version: int, mapper: NodeMapper) -> bool:
    """Virtual broker ids -> real ones in DescribeConfigs / AlterConfigs / IncrementalAlterConfigs."""
    changed = False
    for resource in msg.Resources:
        changed |= _swap_name(resource, mapper.real_node)
    return changed


def rewrite_describe_configs_response(msg: Any, version: int, mapper: NodeMapper) -> None:
    for result in msg.Results:
        _swap_name(result, mapper.node)
        if result.ResourceType not in NODE_RESOURCE_TYPES:
            continue
        for config in result.Configs:
            if config.Name in MASKED_CONFIGS:
                config.Value = MASK
            for synonym in config.get("Synonyms") or []:
                if synonym.Name in MASKED_CONFIGS:
                    synonym.Value = MASK
