"""A connection that closes with writes in flight leaves writes of unknown fate, never "drained" ones."""

from __future__ import annotations

from typing import Any

from harness.proxy_thread import proxy_config
from proxy.dataplane.context import WRITE_APIS, ProxyContext
from proxy.metrics import Metrics


def context() -> ProxyContext:
    return ProxyContext(proxy_config({"A": "127.0.0.1:1"}, "A"), Metrics(clusters=["A"]))


class Client:
    """What the context asks of a closing connection: its unanswered requests per API set."""

    def __init__(self, outstanding_writes: int) -> None:
        self.outstanding_writes = outstanding_writes

    def outstanding(self, apis: frozenset[int]) -> int:
        return self.outstanding_writes if apis == WRITE_APIS else 0


def client(outstanding_writes: int) -> Any:
    return Client(outstanding_writes)


def test_writes_outstanding_when_a_connection_closes_are_counted_as_of_unknown_fate() -> None:
    proxy = context()
    closing, idle = client(outstanding_writes=2), client(outstanding_writes=0)
    for c in (closing, idle):
        assert proxy.register(c)
    proxy.unregister(closing)
    proxy.unregister(idle)
    assert proxy.writes_of_unknown_fate == 2
    assert proxy.clients == set()
