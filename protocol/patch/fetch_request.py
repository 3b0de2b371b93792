"""Fetch request (key 1), v9-18: every partition's CurrentLeaderEpoch becomes -1.

Why: the proxy answers every leader epoch as -1 (Metadata, KIP-951 hints), because A's and B's
epochs are unrelated. A client that fetches with epoch -1 is never fenced, which is what the
proxy relies on. But librdkafka, seeing epoch -1 from a broker with Metadata v9+, sends
CurrentLeaderEpoch **0** instead ("so that the epoch is checked", `rdkafka_fetcher.c`). That works
until a partition's leader changes once: from then on the broker's epoch is >= 1, every Fetch gets
FENCED_LEADER_EPOCH, the refreshed metadata says -1 again, and the consumer retries epoch 0 forever
-- it silently stops receiving that partition (issue 15: one broker SIGKILLed). A direct client
learns the real epoch from Metadata and never sees this. So the epoch a client sends is one the
proxy invented, never one the broker issued, and the broker must not check it.

LastFetchedEpoch (v12+) is left alone: it comes from record batches, i.e. from the broker itself.

Partition: Partition(4) CurrentLeaderEpoch(4, v9+) FetchOffset(8) LastFetchedEpoch(4, v12+)
LogStartOffset(8, v5+) PartitionMaxBytes(4) tags(v12+). Head: ReplicaId(4, v<15) MaxWaitMs(4)
MinBytes(4) MaxBytes(4) IsolationLevel(1) SessionId(4) SessionEpoch(4). Only the walk up to the
end of Topics is needed; what follows (forgotten topics, rack, tags) is never read.
"""

from __future__ import annotations

from protocol.errors import UnsupportedVersion
from protocol.patch.wire import (
    INT32,
    NO_EPOCH,
    Pieces,
    Splice,
    array_length,
    fixed,
    guarded,
    skip_string,
    skip_tags,
    splice,
)

API_KEY = 1
VERSIONS = range(4, 19)
FIRST_WITH_EPOCH = 9
NAME = "FetchRequest"


def clear_leader_epochs(body: memoryview, version: int) -> Pieces:
    """The request body with every CurrentLeaderEpoch -1, as slices of `body` (`[body]` if unchanged)."""
    if version not in VERSIONS:
        raise UnsupportedVersion(NAME, version)
    if version < FIRST_WITH_EPOCH:
        return [body]
    return guarded(NAME, version, lambda: splice(body, _changes(body, version)))


def _changes(body: memoryview, version: int) -> list[Splice]:
    compact = version >= 12
    head = 20 if version >= 15 else 24  # without IsolationLevel's one byte
    rest = 4 + 8 + (4 if compact else 0) + 8 + 4  # CurrentLeaderEpoch .. PartitionMaxBytes
    changes: list[Splice] = []
    count, pos = array_length(body, fixed(body, 0, head + 1), compact)
    for _ in range(count):
        pos = fixed(body, pos, 16) if version >= 13 else skip_string(body, pos, compact)
        partitions, pos = array_length(body, pos, compact)
        for _ in range(partitions):
            epoch_at = fixed(body, pos, 4)
            if INT32.unpack_from(body, epoch_at)[0] != -1:
                changes.append((epoch_at, epoch_at + 4, NO_EPOCH))
            pos = fixed(body, epoch_at, rest)
            if compact:
                pos = skip_tags(body, pos)
        if compact:
            pos = skip_tags(body, pos)
    return changes
