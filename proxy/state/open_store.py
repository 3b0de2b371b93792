"""The store a config asks for."""

from __future__ import annotations

from proxy.config import ProxyConfig
from proxy.state.etcd_store import EtcdStateStore
from proxy.state.file_store import FileStateStore
from proxy.state.memory_store import MemoryStateStore
from proxy.state.store import SwitchStateStore


def open_store(config: ProxyConfig) -> SwitchStateStore:
    state = config.state
    if state.backend == "etcd":
        prefix = state.prefix or f"/kafka-failover-proxy/{config.virtual_cluster.cluster_id}"
        return EtcdStateStore(state.endpoints, prefix)
    if state.path is None:
        return MemoryStateStore()
    return FileStateStore(state.path)
