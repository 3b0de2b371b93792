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

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

PRODUCE = 0
END_TXN = 26
TXN_OFFSET_COMMIT = 28

TRANSACTION_ABORTABLE = 120
DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000
"""kafka-clients' transaction.timeout.ms default, for an id whose InitProducerId the proxy never saw."""

DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS = 7 * 24 * 3600 * 1000
"""The broker's transactional.id.expiration.ms default: after it the broker forgets the id as well."""
PRUNE_EVERY_MS = 60_000

FIRST_TV2_VERSION = {PRODUCE: 12, TXN_OFFSET_COMMIT: 5, END_TXN: 5}
"""The first version of each API that a transaction version 2 client sends (and only such a client)."""


class StaleProducerVerdict(Enum):
    FORWARD = "forward"
    ABORTABLE = "abortable"
    REINITIALISE = "reinitialise"


@dataclass(slots=True)
class _Origin:
    cluster: str
    used_ms: int
    saved_ms: int
    """The use time the store last heard (see `ProducerIdOrigins.on_change`)."""


OriginChange = Callable[[str, "dict[str, Any] | None"], None]
"""(transactional id, its stored form or None once forgotten): what a state store must keep."""


class ProducerIdOrigins:
    """Per transactional id: the cluster that issued its current producer id, and its timeout.

    Bounded like the broker's own table: an id unused for `expiration_ms` (the broker's
    transactional.id.expiration.ms, 7 days by default) is forgotten, since the broker forgets it too
    and the producer's next InitProducerId is seen afresh. Origins outlive the process through
    `on_change` and `restore`: a producer that initialised before a proxy restart still carries the
    old cluster's id after a later switch. A used id is written again once half its expiration has
    passed, so a restart never drops a producer that is still at work.
    """

    __slots__ = ("_clock_ms", "_origins", "_pruned_ms", "_timeout_ms", "expiration_ms", "on_change")

    def __init__(self, clock_ms: Callable[[], int] | None = None,
                 expiration_ms: int = DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS) -> None:
        self._origins: dict[str, _Origin] = {}
        self._timeout_ms: dict[str, int] = {}
        self._clock_ms = clock_ms or _wall_clock_ms
        self.expiration_ms = expiration_ms
        self.on_change: OriginChange | None = None
        self._pruned_ms = self._clock_ms()

    @property
    def count(self) -> int:
        return len(self._origins)

    def requested(self, transactional_id: str, timeout_ms: int) -> None:
        """An InitProducerId request: its transaction timeout is what the id runs with."""
        self._timeout_ms[transactional_id] = timeout_ms
        self._prune_if_due()

    def issued(self, transactional_id: str, cluster: str) -> None:
        """`cluster` answered an InitProducerId (or a re-initialising EndTxn) for the id."""
        now = self._clock_ms()
        origin = self._origins.get(transactional_id)
        if origin is not None and origin.cluster == cluster:
            self._touch(transactional_id, origin, now)
            return
        origin = self._origins[transactional_id] = _Origin(cluster, now, now)
        self._tell(transactional_id, origin)
        self._prune_if_due()

    def issued_by(self, transactional_id: str) -> str | None:
        origin = self._origins.get(transactional_id)
        return None if origin is None else origin.cluster

    def timeout_ms(self, transactional_id: str) -> int:
        return self._timeout_ms.get(transactional_id, DEFAULT_TRANSACTION_TIMEOUT_MS)

    def restore(self, stored: Mapping[str, Any]) -> int:
        """Take origins a state store kept (`stored_form` values by transactional id); skips expired or
        malformed entries. Returns how many were taken."""
        now, taken = self._clock_ms(), 0
        for transactional_id, value in stored.items():
            try:
                cluster, used_ms = str(value["issued_by"]), int(value["used_ms"])
            except (KeyError, TypeError, ValueError):
                continue
            if now - used_ms < self.expiration_ms and transactional_id not in self._origins:
                self._origins[transactional_id] = _Origin(cluster, used_ms, used_ms)
                taken += 1
        return taken

    def prune(self) -> int:
        """Forget ids unused for `expiration_ms`; returns how many."""
        now = self._clock_ms()
        self._pruned_ms = now
        expired = [tid for tid, origin in self._origins.items() if now - origin.used_ms >= self.expiration_ms]
        for tid in expired:
            del self._origins[tid]
            self._timeout_ms.pop(tid, None)
            if self.on_change is not None:
                self.on_change(tid, None)
        return len(expired)

    def _prune_if_due(self) -> None:
        if self._clock_ms() - self._pruned_ms >= PRUNE_EVERY_MS:
            self.prune()

    def _touch(self, transactional_id: str, origin: _Origin, now: int) -> None:
        origin.used_ms = now
        if now - origin.saved_ms >= self.expiration_ms // 2:
            origin.saved_ms = now
            self._tell(transactional_id, origin)

    def _tell(self, transactional_id: str, origin: _Origin) -> None:
        if self.on_change is not None:
            self.on_change(transactional_id, stored_form(origin))

    def is_stale(self, transactional_id: str | None, active: str) -> bool:
        """True if the id's producer id came from a cluster other than `active`."""
        if transactional_id is None:
            return False
        origin = self._origins.get(transactional_id)
        if origin is None:
            return False
        self._touch(transactional_id, origin, self._clock_ms())
        return origin.cluster != active

    def verdict(self, api_key: int, version: int, transactional_id: str | None, active: str,
                committed: bool = False) -> StaleProducerVerdict:
        """What to do with a Produce, TxnOffsetCommit or EndTxn (see the module header's table)."""
        first = FIRST_TV2_VERSION.get(api_key)
        if first is None or version < first or not self.is_stale(transactional_id, active):
            return StaleProducerVerdict.FORWARD
        if api_key == END_TXN and not committed:
            return StaleProducerVerdict.REINITIALISE
        return StaleProducerVerdict.ABORTABLE


def stored_form(origin: _Origin) -> dict[str, Any]:
    return {"issued_by": origin.cluster, "used_ms": origin.used_ms}


def _wall_clock_ms() -> int:
    """Wall time, not monotonic: stored use times must mean the same after a restart."""
    return int(time.time() * 1000)
