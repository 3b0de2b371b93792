"""Response rewriting speed, fast patchers against the schema layer. Prints one JSON object.

    .venv/bin/python -m bench.codec_bench

The cluster of issue 3: a Metadata v12 response from 6 brokers with 200 topics x 12 partitions,
3 replicas each (ISR = replicas, no offline replicas, varied leader epochs), and a FindCoordinator
v4 response with one coordinator. Each figure is the median of many single calls timed with
`perf_counter_ns`, output joined into one bytes object as a caller writing one buffer would:

- metadata_brokers_rewrite_us: brokers, cluster id and controller only (`partitions=False`);
- metadata_partitions_rewrite_us: the full rewrite, every partition's node ids and leader epoch;
- find_coordinator_rewrite_us: one coordinator, rewritten;
- header_peek_ns: `peek_request_header` on a Produce v11 request header (rounds of 1000 calls);
- construct_metadata_rewrite_us: the slow path (decode, `rewrite_metadata`, encode) for comparison.

Targets (issue 3): <= 200 us, <= 3000 us, <= 20 us, <= 2000 ns. The mapper is the proxy's own
`NodeMapper`, so its cost is included.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable

from protocol.api_keys import ApiKey
from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import find_coordinator, metadata
from protocol.patch.find_coordinator import patch_find_coordinator
from protocol.patch.metadata import patch_metadata
from protocol.schema import decode, encode, new
from proxy.dataplane.rewrite.addresses import rewrite_metadata
from proxy.dataplane.virtual_cluster import NodeMapper, VirtualCluster

BROKERS = [101, 102, 103, 104, 105, 106]
TOPICS = 200
PARTITIONS = 12
REPLICAS = 3
METADATA_VERSION = 12
FIND_COORDINATOR_VERSION = 4


def node_mapper() -> NodeMapper:
    virtual = VirtualCluster("virtual-cluster-id", "kafka-proxy.example.internal", 19092, 16)
    return virtual.mapper("a")


def metadata_body(seed: int = 7) -> bytes:
    rng = random.Random(seed)
    brokers = [
        {"NodeId": n, "Host": f"b{n}.kafka-a.eu-west-1.example.internal", "Port": 9092, "Rack": f"eu-west-1{n % 3}"}
        for n in BROKERS
    ]
    topics = [_topic(rng, t) for t in range(TOPICS)]
    msg = new(
        metadata.RESPONSE,
        METADATA_VERSION,
        Brokers=brokers,
        ClusterId="kFx2aW3tQ0e4Zc8eIu6Ang",
        ControllerId=BROKERS[2],
        Topics=topics,
    )
    return encode(metadata.RESPONSE, METADATA_VERSION, msg)


def _topic(rng: random.Random, index: int) -> dict[str, object]:
    partitions = []
    for p in range(PARTITIONS):
        replicas = rng.sample(BROKERS, REPLICAS)
        partitions.append(
            {
                "ErrorCode": 0,
                "PartitionIndex": p,
                "LeaderId": replicas[0],
                "LeaderEpoch": rng.randrange(0, 40),
                "ReplicaNodes": replicas,
                "IsrNodes": list(replicas),
                "OfflineReplicas": [],
            }
        )
    return {
        "ErrorCode": 0,
        "Name": f"orders.events.region-{index:03d}",
        "TopicId": uuid.UUID(int=rng.getrandbits(128)),
        "IsInternal": False,
        "Partitions": partitions,
        "TopicAuthorizedOperations": -2147483648,
    }


def find_coordinator_body() -> bytes:
    coordinator = {
        "Key": "payments-consumer-group",
        "NodeId": 103,
        "Host": "b103.kafka-a.example.internal",
        "Port": 9092,
        "ErrorCode": 0,
        "ErrorMessage": None,
    }
    msg = new(find_coordinator.RESPONSE, FIND_COORDINATOR_VERSION, Coordinators=[coordinator])
    return encode(find_coordinator.RESPONSE, FIND_COORDINATOR_VERSION, msg)


def median_us(call: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def median_ns_per_call(call: Callable[[], object], rounds: int = 200, calls: int = 1000) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def header_peek_ns() -> float:
    header = encode_request_header(ApiKey.PRODUCE, 11, 48213, "producer-payments-1")
    frame = memoryview(bytearray(header + bytes(512)))
    return median_ns_per_call(lambda: peek_request_header(frame))


def construct_rewrite(body: bytes, mapper: NodeMapper) -> bytes:
    msg = decode(metadata.RESPONSE, METADATA_VERSION, body)
    rewrite_metadata(msg, METADATA_VERSION, mapper)
    return encode(metadata.RESPONSE, METADATA_VERSION, msg)


def main() -> None:
    mapper = node_mapper()
    meta = memoryview(metadata_body())
    coordinator = memoryview(find_coordinator_body())
    v = METADATA_VERSION
    if b"".join(patch_metadata(meta, v, mapper)) != construct_rewrite(bytes(meta), mapper):
        raise SystemExit("patch_metadata disagrees with the schema layer on the benchmark response")
    result = {
        "metadata_brokers_rewrite_us": median_us(
            lambda: b"".join(patch_metadata(meta, v, mapper, partitions=False)), 2000
        ),
        "metadata_partitions_rewrite_us": median_us(lambda: b"".join(patch_metadata(meta, v, mapper)), 300),
        "find_coordinator_rewrite_us": median_us(
            lambda: patch_find_coordinator(coordinator, FIND_COORDINATOR_VERSION, mapper), 20000
        ),
        "header_peek_ns": header_peek_ns(),
        "construct_metadata_rewrite_us": median_us(lambda: construct_rewrite(bytes(meta), mapper), 15),
    }
    print(json.dumps({key: round(value, 1) for key, value in result.items()}))


if __name__ == "__main__":
    main()
