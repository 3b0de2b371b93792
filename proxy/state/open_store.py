"""The store a config asks for."""

from __future__ import annotations

from proxy.config import StateConfig
from proxy.state.file_store import FileStateStore
from proxy.state.memory_store import MemoryStateStore
from proxy.state.store import SwitchStateStore


def open_store(config: StateConfig) -> SwitchStateStore:
    if config.path is None:
        return MemoryStateStore()
    return FileStateStore(config.path)
