"""The fence, decided per request: which Produce and transaction requests to refuse, with which error.

The machine only says FenceTransactions / FenceProduce / Unfence*; the connection layer asks these
two objects about every request while a fence is up. Both are pure and synchronous, so a request
is decided in the same event-loop tick it is read in.

Produce (section 5 of the protocol reference). A refused Produce is answered at the request's
version with NOT_LEADER_OR_FOLLOWER (6) for every partition, BaseOffset -1 and no KIP-951
CurrentLeader/NodeEndpoints: every client retries it after a metadata refresh without counting it
against its retries, with the same sequence numbers. The refusal is sticky per (producer id,
partition): once one batch of a producer's partition was refused, every later batch of it is
refused until unfence, because a later batch reaching a broker ahead of the refused one's retry is
a sequence gap, OUT_OF_ORDER_SEQUENCE_NUMBER, fatal for librdkafka's head-of-line request. The key
includes the producer id (-1 for non-idempotent producers) because sequences are per producer:
one producer's refusal must not block another producer's open transaction (see below). A request
is forwarded whole or refused whole, so the executor never splits a Produce request.

Transactions (section 4.6). New transactions are refused; transactions already open on the source
may finish. Refusing those too would leave them open until transaction.timeout.ms (60 s by
default), and the switch waits for "no open transaction" before it measures the mirror. So:

  api                      open transaction     no open transaction
  InitProducerId (22)      forward (it aborts   refuse 14 (a transactional id only; idempotent
                           the open one)        producers' InitProducerId opens nothing: forward)
  AddPartitionsToTxn (24)  forward              refuse 14, every partition
  AddOffsetsToTxn (25)     forward              refuse 14
  EndTxn (26)              forward              forward: commit or abort is how a transaction ends
  TxnOffsetCommit (28)     forward              refuse 14, every partition (transaction version 2
                                                opens a transaction with it; version 1 clients send
                                                it only after AddOffsetsToTxn opened one, so they
                                                never see this refusal)
  Produce, transactional   forward (TV2 adds    refuse 6 (TV2: the first produce is what starts a
                           partitions itself)   transaction on a partition)

Why COORDINATOR_LOAD_IN_PROGRESS (14): every client retries it with its normal backoff on all
three calls (Java reenqueue; librdkafka 500 ms on AddPartitionsToTxn and its PID timer, bounded by
the API timeout on AddOffsetsToTxn; kafka-python and aiokafka retry). CONCURRENT_TRANSACTIONS (51)
is as retriable but makes Java, librdkafka, kafka-python and aiokafka retry AddPartitionsToTxn
after 20 ms: a request storm for a fence that lasts seconds. NOT_COORDINATOR (16) would send every
client through FindCoordinator on each retry, to be told the same coordinator.

"Open" is what the proxy saw: a transaction opens with a successful AddPartitionsToTxn,
AddOffsetsToTxn or TxnOffsetCommit response or a forwarded transactional Produce, and closes with
an EndTxn or InitProducerId success for its transactional id, or when its transaction timeout has
passed since it opened (the coordinator aborts it then; a producer that died mid-transaction, or
whose EndTxn answer was lost, would otherwise count as open until the id initialises again, and
its late requests would pass the next fence). The executor reports those
responses whether or not fenced, so the state is right at the moment the fence goes up. The
source's own ListTransactions stays the authority for the switch's gate; this tracker only
decides what to let through.

Held, not refused, while a switch runs (issue 10's unavailability target). A refusal starts the
client's retry backoff, and every client grows it per attempt (Java and librdkafka 100 ms doubling
to 1 s, franz-go 250 ms to 2.5 s and a 5 s floor between metadata refreshes): a fence of a second
has them asleep for up to that long when the flip comes, which is most of the time a producer
waits. So while a planned or emergency switch's fence is up, a Produce that would be refused is
held instead: the proxy answers nothing, the client's request simply waits (within every client's
request timeout, Java, librdkafka and kafka-python 30 s, aiokafka 40 s, franz-go 10 s plus its
connection overhead), and nothing is forwarded. The flip closes every connection a moment later,
and the client resends on a fresh connection at its first retry step, with the same sequence
numbers, to the target (a disconnect is retriable for every client and refreshes its metadata).
An abort closes held producers' connections the same way, and they resend to the source. Nothing
held ever reached a broker, so holding changes nothing the drain or the catch-up reason about.
Holds are bounded per connection: one holding a request for `HOLD_LIMIT_MS` is closed (the
executor looks every `HOLD_RECYCLE_EVERY_MS`), below every client's request timeout. The client
resends after one retry step and is held again, so a long catch-up costs it one disconnect per
15 s, never a refusal (refusing after a limit instead, tried first, put a 25 s catch-up's producers
back into a backoff of 1-2 s at the flip). An operator fence has no end in sight, so it refuses. The sticky rule is
the same for held and refused partitions: a later batch of a held partition is held too.

acks=0 Produce has no response to carry a refusal: the executor must not forward it while fenced
and can only drop it (counted). Such producers accept loss by their configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from proxy.switch.machine.producer_ids import DEFAULT_TRANSACTION_TIMEOUT_MS
from proxy.switch.machine.progress import TopicPartition

NOT_LEADER_OR_FOLLOWER = 6
COORDINATOR_LOAD_IN_PROGRESS = 14

PRODUCE = 0
INIT_PRODUCER_ID = 22
ADD_PARTITIONS_TO_TXN = 24
ADD_OFFSETS_TO_TXN = 25
END_TXN = 26
TXN_OFFSET_COMMIT = 28

PRUNE_EVERY_MS = 60_000
HOLD_LIMIT_MS = 15_000
"""Longest a connection's Produce is held before the connection is closed: below every client's default request
timeout (the shortest is franz-go's, its 10 s produce timeout plus 10 s of overhead). A close costs franz-go a
metadata refresh, and it refreshes at most every 5 s: with 8 s, a 12 s fence left its producers 9-11 s late."""
HOLD_RECYCLE_EVERY_MS = 1_000

GATED_WHEN_NOT_OPEN = frozenset({INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, ADD_OFFSETS_TO_TXN, TXN_OFFSET_COMMIT})
"""Transaction APIs refused for a transactional id without an open transaction while fenced."""


class TransactionFence:
    """Open transactions as seen in responses, and the refusal decision for transaction APIs."""

    __slots__ = ("_clock_ms", "_fenced", "_open", "_pruned_ms", "refusals")

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._fenced = False
        self._open: dict[str, int] = {}
        """transactional id -> when its coordinator times the transaction out (clock ms)."""
        self._clock_ms = clock_ms or _monotonic_ms
        self._pruned_ms = self._clock_ms()
        self.refusals = 0

    @property
    def fenced(self) -> bool:
        return self._fenced

    def fence(self) -> None:
        self._fenced = True
        self.prune()

    def unfence(self) -> None:
        self._fenced = False

    def started(self, transactional_id: str, timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS) -> None:
        """A successful AddPartitionsToTxn, AddOffsetsToTxn or TxnOffsetCommit response, or a transactional
        Produce forwarded. The timeout runs from the transaction's start, as on the coordinator."""
        now = self._clock_ms()
        if self._open.get(transactional_id, now) <= now:
            self._open[transactional_id] = now + timeout_ms
        if now - self._pruned_ms >= PRUNE_EVERY_MS:
            self.prune()

    def ended(self, transactional_id: str) -> None:
        """A successful EndTxn (commit or abort) or InitProducerId response for the id."""
        self._open.pop(transactional_id, None)

    def is_open(self, transactional_id: str | None) -> bool:
        if transactional_id is None:
            return False
        expires = self._open.get(transactional_id)
        if expires is None:
            return False
        if expires <= self._clock_ms():
            del self._open[transactional_id]
            return False
        return True

    def prune(self) -> int:
        """Forget transactions past their timeout; returns how many."""
        now = self._pruned_ms = self._clock_ms()
        expired = [tid for tid, expires in self._open.items() if expires <= now]
        for tid in expired:
            del self._open[tid]
        return len(expired)

    @property
    def open_count(self) -> int:
        return len(self._open)

    def refusal(self, api_key: int, transactional_id: str | None) -> int | None:
        """The error code to answer a request with, or None to forward it. Produce is not decided
        here (see `ProduceFence`); EndTxn is always forwarded."""
        if not self._fenced or api_key not in GATED_WHEN_NOT_OPEN:
            return None
        if transactional_id is None or self.is_open(transactional_id):
            return None
        self.refusals += 1
        return COORDINATOR_LOAD_IN_PROGRESS


@dataclass(frozen=True, slots=True)
class ProduceVerdict:
    """Forward the whole request, hold it unanswered (`hold`), or answer `error_code` for every
    partition in `refused` (held requests name their partitions there too)."""

    forward: bool
    refused: tuple[TopicPartition, ...] = ()
    error_code: int = 0
    hold: bool = False


FORWARD = ProduceVerdict(True)


class ProduceFence:
    """The produce fence; consults `transactions` to let open transactions finish."""

    __slots__ = ("_fenced", "_holding", "_refused", "_transactions", "holds", "refusals")

    def __init__(self, transactions: TransactionFence | None = None) -> None:
        self._fenced = False
        self._holding = False
        self.holds = 0
        self._refused: set[tuple[int, TopicPartition]] = set()
        self._transactions = transactions if transactions is not None else TransactionFence()
        self.refusals = 0

    @property
    def fenced(self) -> bool:
        return self._fenced

    @property
    def holding(self) -> bool:
        return self._fenced and self._holding

    def fence(self, hold: bool = False) -> None:
        """Raise the fence; refusals start afresh. `hold`: a switch's fence, which holds (see above)."""
        self._fenced = True
        self._holding = hold
        self._refused.clear()

    def unfence(self) -> None:
        """Lower the fence. The executor closes refused producers' connections first (see machine)."""
        self._fenced = False
        self._holding = False
        self._refused.clear()

    def was_refused(self, producer_id: int, tp: TopicPartition) -> bool:
        return (producer_id, tp) in self._refused

    def decide(self, partitions: Iterable[TopicPartition], *, producer_id: int = -1,
               transactional_id: str | None = None) -> ProduceVerdict:
        """Decide one Produce request (all its batches share one producer id and transactional id)."""
        if not self._fenced:
            return FORWARD
        keys = [(producer_id, tp) for tp in partitions]
        open_txn = self._transactions.is_open(transactional_id)
        if open_txn and not any(key in self._refused for key in keys):
            return FORWARD
        self._refused.update(keys)
        if self._holding:
            self.holds += len(keys)
        else:
            self.refusals += len(keys)
        return ProduceVerdict(False, tuple(tp for _, tp in keys), NOT_LEADER_OR_FOLLOWER, self._holding)


def _monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
