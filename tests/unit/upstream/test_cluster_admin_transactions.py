"""Open transactions are asked of every broker at once: producers wait through this check in a switch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from protocol.messages import list_transactions
from proxy.upstream.cluster_admin import ClusterAdmin, OpenTransaction


class Brokers:
    """Answers ListTransactions/DescribeTransactions per node after a delay, counting requests at once."""

    def __init__(self, open_on: dict[int, list[str]]) -> None:
        self.open_on = open_on
        self.running = self.peak = 0

    async def request(self, module: object, body: Any, node: int | None = None, highest: int | None = None) -> Any:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        assert node is not None
        if module is list_transactions:
            return SimpleNamespace(TransactionStates=[SimpleNamespace(TransactionalId=t, ProducerId=7,
                                                                      TransactionState="Ongoing")
                                                      for t in self.open_on[node]])
        return SimpleNamespace(TransactionStates=[SimpleNamespace(TransactionalId=t, ErrorCode=0,
                                                                  TransactionStartTimeMs=-1)
                                                  for t in body["TransactionalIds"]])


def test_every_broker_is_asked_at_once_and_the_answers_merged_in_order() -> None:
    admin = ClusterAdmin("A", [("127.0.0.1", 1)])
    brokers = Brokers({1: ["tx-b"], 2: [], 3: ["tx-a"]})
    admin.brokers = {1: ("h", 1), 2: ("h", 2), 3: ("h", 3)}

    async def partitions() -> dict[Any, Any]:
        return {}

    admin.partitions = partitions  # type: ignore[method-assign]
    admin._request = brokers.request  # type: ignore[method-assign]
    found = asyncio.run(admin.open_transactions())
    assert found == [OpenTransaction("tx-a", 7, "Ongoing", -1), OpenTransaction("tx-b", 7, "Ongoing", -1)]
    assert brokers.peak == 3
