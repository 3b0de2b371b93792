"""What virtual topic ids cost on the hot path. Prints one JSON object.

    .venv/bin/python -m bench.topic_id_bench

Deterministic virtual ids are patched even while A is active, so this measures that price: the
in-place walk of a Produce v13 request and a Fetch v17 response (real -> virtual or virtual -> real,
every id known, so every id is written) of a typical shape, 3 topics x 4 partitions with 16 KiB of
records each (192 KiB of records), and a 1-topic, 1-partition one (the latency-sensitive small
case). Each figure is the median CPU ns per call (thread time: the machine is shared) over rounds
of 200 calls; `*_per_mib_us` relates the large case to the bytes it carries. For comparison,
`fetch_node_patch_ns` is the existing broker-identity patcher on the same Fetch response (what
every v13+ Fetch response already pays).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable

from protocol.messages import fetch, produce
from protocol.patch.fetch import patch_fetch
from protocol.patch.topic_ids import map_request, map_response
from protocol.schema import encode, new
from proxy.dataplane.topic_ids import ClusterTopicIds
from proxy.dataplane.virtual_cluster import VirtualCluster

ROUNDS = 200
CALLS = 200
RECORDS = b"r" * 16384


def _median_ns(call: Callable[[], object]) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.thread_time_ns()
        for _ in range(CALLS):
            call()
        samples.append((time.thread_time_ns() - start) / CALLS)
    return statistics.median(samples)


def _produce(topics: list[uuid.UUID], partitions: int) -> bytes:
    data = [{"TopicId": t, "PartitionData": [{"Index": p, "Records": RECORDS} for p in range(partitions)]}
            for t in topics]
    return encode(produce.REQUEST, 13, new(produce.REQUEST, 13, Acks=-1, TimeoutMs=30000, TopicData=data))


def _fetch(topics: list[uuid.UUID], partitions: int) -> bytes:
    responses = [{"TopicId": t, "Partitions": [
        {"PartitionIndex": p, "HighWatermark": 100, "LastStableOffset": 100, "LogStartOffset": 0,
         "AbortedTransactions": [], "PreferredReadReplica": -1, "Records": RECORDS} for p in range(partitions)]}
        for t in topics]
    return encode(fetch.RESPONSE, 17, new(fetch.RESPONSE, 17, Responses=responses))


def _case(ids: ClusterTopicIds, names: list[str], partitions: int) -> dict[str, float]:
    reals = [uuid.UUID(bytes=ids.to_real[ids.virtual(n)]) for n in names]
    virtuals = [uuid.UUID(bytes=ids.virtual(n)) for n in names]
    request = memoryview(bytearray(_produce(virtuals, partitions)))
    response = memoryview(bytearray(_fetch(reals, partitions)))
    mapper = VirtualCluster("vc", "proxy", 9000, 4).mapper("A")

    def produce_round_trip() -> None:  # two calls so every call writes every id (virtual -> real -> virtual)
        map_request(0, 13, request, ids.to_real)
        map_request(0, 13, request, ids.to_virtual)

    def fetch_round_trip() -> None:
        map_response(1, 17, response, ids.to_virtual)
        map_response(1, 17, response, ids.to_real)

    return {
        "produce_request_ns": _median_ns(produce_round_trip) / 2,
        "fetch_response_ns": _median_ns(fetch_round_trip) / 2,
        "fetch_node_patch_ns": _median_ns(lambda: patch_fetch(response, 17, mapper)),
        "bytes": float(len(request)),
    }


def main() -> None:
    ids = ClusterTopicIds("vc")
    names = ["orders", "payments", "shipments"]
    for name in names:
        ids.learn(name, uuid.uuid4().bytes)
    large, small = _case(ids, names, 4), _case(ids, names[:1], 1)
    mib = large["bytes"] / (1 << 20)
    result = {
        "large_3x4_produce_request_ns": round(large["produce_request_ns"]),
        "large_3x4_fetch_response_ns": round(large["fetch_response_ns"]),
        "large_3x4_fetch_node_patch_ns": round(large["fetch_node_patch_ns"]),
        "large_produce_per_mib_us": round(large["produce_request_ns"] / mib / 1000, 2),
        "large_fetch_per_mib_us": round(large["fetch_response_ns"] / mib / 1000, 2),
        "small_1x1_produce_request_ns": round(small["produce_request_ns"]),
        "small_1x1_fetch_response_ns": round(small["fetch_response_ns"]),
        "small_1x1_fetch_node_patch_ns": round(small["fetch_node_patch_ns"]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
