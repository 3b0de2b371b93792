"""Transactional producers that hold a producer id from the cluster the proxy switched away from.

A transactional producer keeps the producer id it got from InitProducerId for its whole life: with
transaction version 2 (KIP-890, Java 4.x against 4.x brokers) each EndTxn hands back the next epoch
of the same id, and the client never asks InitProducerId again. After a switch it brings the
source's id to the target, whose coordinator never issued it. The target answers
INVALID_PRODUCER_ID_MAPPING (49), which kafka-clients 4.4 treats as fatal on every path (Produce,
TxnOffsetCommit, EndTxn); a target that never hosted a transaction answers a Produce's
verification with COORDINATOR_NOT_AVAILABLE until delivery.timeout.ms instead.

The one place a TV2 client accepts a new producer id is a successful EndTxn (v5+ carries
ProducerId and ProducerEpoch). So after the flip, for a transactional id whose producer id came
from another cluster than the active one:

  request (TV2 version)          answer
  Produce (v12+)                 TRANSACTION_ABORTABLE (120) for every partition, by the proxy: the
                                 batch fails, the transaction becomes abortable
  TxnOffsetCommit (v5+)          TRANSACTION_ABORTABLE for every partition, by the proxy
  EndTxn commit (v5+)            TRANSACTION_ABORTABLE, by the proxy: the application aborts
  EndTxn abort (v5+)             sent to the target as InitProducerId(transactional id, -1, -1);
                                 its answer goes back as the EndTxn answer, so the client carries
                                 on with the target's new producer id (retriable errors stay
                                 retriable: the client resends the EndTxn, which is sent again the
                                 same way)

Nothing of the aborted transaction ever reached the target: its batches were refused or answered
here, and its offsets were never committed there, so the abort loses nothing. The application
(TransactionalMessageCopier, Kafka Streams) rewinds to its committed offsets, which the switch
carried to the target. The InitProducerId also creates the target's transaction state topic if the
target never had one (its coordinator answers COORDINATOR_NOT_AVAILABLE until it is loaded, which
the client retries).

Older versions (transaction version 1: librdkafka, kafka-python, aiokafka, Java against older
brokers) pass through unchanged: those clients recover from the target's answers themselves
(librdkafka bumps on 49) or not at all, and turning them abortable here would change what works.

"Which cluster issued the id" is what the proxy saw: the active cluster when an InitProducerId or
a re-initialising EndTxn succeeded for the transactional id. An id the proxy never saw initialise
(a producer older than the proxy process) is left alone.
"""

from __future__ import annotations

from enum import Enum

PRODUCE = 0
END_TXN = 26
TXN_OFFSET_COMMIT = 28

TRANSACTION_ABORTABLE = 120
DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000
"""kafka-clients' transaction.timeout.ms default, for an id whose InitProducerId the proxy never saw."""

FIRST_TV2_VERSION = {PRODUCE: 12, TXN_OFFSET_COMMIT: 5, END_TXN: 5}
"""The first version of each API that a transaction version 2 client sends (and only such a client)."""


class StaleProducerVerdict(Enum):
    FORWARD = "forward"
    ABORTABLE = "abortable"
    REINITIALISE = "reinitialise"


class ProducerIdOrigins:
    """Per transactional id: the cluster that issued its current producer id, and its timeout."""

    __slots__ = ("_issued_by", "_timeout_ms")

    def __init__(self) -> None:
        self._issued_by: dict[str, str] = {}
        self._timeout_ms: dict[str, int] = {}

    def requested(self, transactional_id: str, timeout_ms: int) -> None:
        """An InitProducerId request: its transaction timeout is what the id runs with."""
        self._timeout_ms[transactional_id] = timeout_ms

    def issued(self, transactional_id: str, cluster: str) -> None:
        """`cluster` answered an InitProducerId (or a re-initialising EndTxn) for the id."""
        self._issued_by[transactional_id] = cluster

    def issued_by(self, transactional_id: str) -> str | None:
        return self._issued_by.get(transactional_id)

    def timeout_ms(self, transactional_id: str) -> int:
        return self._timeout_ms.get(transactional_id, DEFAULT_TRANSACTION_TIMEOUT_MS)

    def is_stale(self, transactional_id: str | None, active: str) -> bool:
        """True if the id's producer id came from a cluster other than `active`."""
        if transactional_id is None:
            return False
        issuer = self._issued_by.get(transactional_id)
        return issuer is not None and issuer != active

    def verdict(self, api_key: int, version: int, transactional_id: str | None, active: str,
                committed: bool = False) -> StaleProducerVerdict:
        """What to do with a Produce, TxnOffsetCommit or EndTxn (see the module header's table)."""
        first = FIRST_TV2_VERSION.get(api_key)
        if first is None or version < first or not self.is_stale(transactional_id, active):
            return StaleProducerVerdict.FORWARD
        if api_key == END_TXN and not committed:
            return StaleProducerVerdict.REINITIALISE
        return StaleProducerVerdict.ABORTABLE
