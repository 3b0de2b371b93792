"""Durable switch state: which cluster is active, the switch epoch, fences, and records by kind.

`store.SwitchStateStore` is the interface; `file_store` is the default backend (one JSON file),
`memory_store` the volatile one used when no state path is configured. An etcd backend for a fleet of
proxies implements the same interface.
"""
