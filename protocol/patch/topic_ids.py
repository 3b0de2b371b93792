"""Topic ids of the hot APIs, rewritten in place: 16 bytes per topic, nothing else touched.

Produce requests and Fetch responses are most of the proxy's bytes, and since v13 both name topics
by id (KIP-516), as do Fetch requests and Produce responses. An id is fixed-size, so the body keeps
its length and offsets: each walker skips to every TopicId and overwrites it in the buffer it was
given, which must be writable (the frame splitter hands out views of its bytearray). Record bytes
are skipped by their length, never read or copied.

`ids` maps one 16-byte id to another (client -> broker: virtual -> real; broker -> client: real ->
virtual) and returns an unknown id itself, so an id nobody knows passes unchanged. A walker writes
only ids that differ. Malformed bodies raise `DecodeError` (via `guarded`); a walker may have
rewritten some ids before it finds the damage, which is harmless: the connection is closed.

Layouts (all flexible, compact lengths, a tagged-field section ending every struct):
  Produce request v13:  TransactionalId Acks(2) TimeoutMs(4) TopicData[{TopicId PartitionData[{Index(4)
                        Records}]}]
  Produce response v13: Responses[{TopicId PartitionResponses[{fixed(30) RecordErrors[{BatchIndex(4)
                        Message}] ErrorMessage}]}] ThrottleTimeMs(4)
  Fetch request v13+:   head Topics[{TopicId Partitions[{fixed}]}] ForgottenTopicsData[{TopicId [int32]}] Rack
  Fetch response v13+:  head(10) Responses[{TopicId Partitions[{fixed(30) AbortedTransactions[{16}]
                        PreferredReadReplica(4) Records}]}]
  Metadata request v10+: Topics (nullable) [{TopicId Name}] ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from protocol.errors import UnsupportedVersion
from protocol.patch.wire import array_length, fixed, guarded, skip_bytes, skip_string, skip_tags

UUID = 16


class IdMap(Protocol):
    def __getitem__(self, raw: bytes, /) -> bytes:
        """The mapped id, or `raw` itself when it is unknown."""
        ...


class TopicIds(Protocol):
    """One upstream cluster's topic ids, as the patchers and rewriters need them."""

    @property
    def to_virtual(self) -> IdMap: ...

    @property
    def to_real(self) -> IdMap: ...

    def learn(self, name: str, real: bytes, /) -> bytes:
        """Record `name`'s real id on this cluster; return its virtual id."""
        ...


def _swap(body: memoryview, pos: int, ids: IdMap) -> int:
    """Map the id at `pos` in place; the position after it."""
    end = fixed(body, pos, UUID)
    raw = bytes(body[pos:end])
    mapped = ids[raw]
    if mapped is not raw and mapped != raw:
        body[pos:end] = mapped
    return end


def produce_request(body: memoryview, ids: IdMap) -> None:
    pos = skip_string(body, 0, True, nullable=True)  # TransactionalId
    count, pos = array_length(body, fixed(body, pos, 6), True)  # after Acks, TimeoutMs
    for _ in range(count):
        partitions, pos = array_length(body, _swap(body, pos, ids), True)
        for _ in range(partitions):
            pos = skip_tags(body, skip_bytes(body, fixed(body, pos, 4), True, nullable=True))
        pos = skip_tags(body, pos)


def produce_response(body: memoryview, ids: IdMap) -> None:
    count, pos = array_length(body, 0, True)
    for _ in range(count):
        partitions, pos = array_length(body, _swap(body, pos, ids), True)
        for _ in range(partitions):
            errors, pos = array_length(body, fixed(body, pos, 30), True)
            for _ in range(errors):
                pos = skip_tags(body, skip_string(body, fixed(body, pos, 4), True, nullable=True))
            pos = skip_tags(body, skip_string(body, pos, True, nullable=True))
        pos = skip_tags(body, pos)


def fetch_request(body: memoryview, version: int, ids: IdMap) -> None:
    head = 20 if version >= 15 else 24  # ReplicaId (v<15) .. SessionEpoch, without IsolationLevel
    partition = 4 + 4 + 8 + 4 + 8 + 4  # Partition .. PartitionMaxBytes
    count, pos = array_length(body, fixed(body, 0, head + 1), True)
    for _ in range(count):
        partitions, pos = array_length(body, _swap(body, pos, ids), True)
        for _ in range(partitions):
            pos = skip_tags(body, fixed(body, pos, partition))
        pos = skip_tags(body, pos)
    count, pos = array_length(body, pos, True)  # ForgottenTopicsData
    for _ in range(count):
        partitions, pos = array_length(body, _swap(body, pos, ids), True)
        pos = skip_tags(body, fixed(body, pos, 4 * partitions))


def fetch_response(body: memoryview, ids: IdMap) -> None:
    count, pos = array_length(body, fixed(body, 0, 10), True)
    for _ in range(count):
        partitions, pos = array_length(body, _swap(body, pos, ids), True)
        for _ in range(partitions):
            aborted, pos = array_length(body, fixed(body, pos, 30), True, nullable=True)
            for _ in range(aborted):
                pos = skip_tags(body, fixed(body, pos, 16))
            pos = skip_bytes(body, fixed(body, pos, 4), True, nullable=True)  # after PreferredReadReplica
            pos = skip_tags(body, pos)
        pos = skip_tags(body, pos)


def metadata_request(body: memoryview, ids: IdMap) -> None:
    count, pos = array_length(body, 0, True, nullable=True)
    for _ in range(count):
        pos = skip_tags(body, skip_string(body, _swap(body, pos, ids), True, nullable=True))


# api key -> (first version with topic ids, walker taking the version too)
_REQUESTS: dict[int, tuple[int, Callable[[memoryview, int, IdMap], None]]] = {
    0: (13, lambda body, _version, ids: produce_request(body, ids)),
    1: (13, fetch_request),
    3: (10, lambda body, _version, ids: metadata_request(body, ids)),
}
_RESPONSES: dict[int, tuple[int, Callable[[memoryview, int, IdMap], None]]] = {
    0: (13, lambda body, _version, ids: produce_response(body, ids)),
    1: (13, lambda body, _version, ids: fetch_response(body, ids)),
}
_NAMES = {0: "Produce", 1: "Fetch", 3: "Metadata"}
_LAST = {0: 13, 1: 18, 3: 13}


def carries_ids(api_key: int, version: int, request: bool) -> bool:
    """Whether this request or response is rewritten here (Metadata responses are in metadata.py)."""
    entry = (_REQUESTS if request else _RESPONSES).get(api_key)
    return entry is not None and version >= entry[0]


def map_request(api_key: int, version: int, body: memoryview, to_real: IdMap) -> None:
    """Rewrite a request body's topic ids virtual -> real, in place."""
    _map(_REQUESTS, "Request", api_key, version, body, to_real)


def map_response(api_key: int, version: int, body: memoryview, to_virtual: IdMap) -> None:
    """Rewrite a response body's topic ids real -> virtual, in place."""
    _map(_RESPONSES, "Response", api_key, version, body, to_virtual)


def _map(table: dict[int, tuple[int, Callable[[memoryview, int, IdMap], None]]], kind: str, api_key: int,
         version: int, body: memoryview, ids: IdMap) -> None:
    entry = table.get(api_key)
    name = _NAMES.get(api_key, f"api {api_key}") + kind
    if entry is None or not entry[0] <= version <= _LAST[api_key]:
        raise UnsupportedVersion(f"topic ids of {name}", version)
    walker = entry[1]
    guarded(name, version, lambda: walker(body, version, ids))
