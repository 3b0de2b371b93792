"""The data plane's Python cost per frame, with no sockets: what the relay spends above recv/send.

    .venv/bin/python -m bench.relay_micro

Drives one `ClientConnection` and its `UpstreamConnection` through their `buffer_updated` callbacks,
exactly as uvloop calls them, with transports that only count what they are asked to write. Two
loads, each a request and its response:

- produce: a Produce v9 request carrying `--records-kib` of opaque record bytes (a Java producer's
  request), answered by a one-partition Produce response.
- fetch: a Fetch v12 request answered by a Fetch response carrying `--records-kib` of records.

Each message arrives in `--chunk` sized reads (a socket delivers a large frame in pieces); the fastest
of several rounds counts (process CPU time; other load on the machine only ever adds to it), less
the fastest round of only the copies into the read buffer (the kernel's work in a real read). Prints
microseconds per request/response pair, the write calls and parts per pair, and the Python CPU
seconds per GiB relayed that alone would cost: the part of `proxy_cpu_s_per_gib` that is not the
kernel's copying.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from typing import Any

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import encode_request_header
from protocol.messages import fetch, produce
from proxy.dataplane.connection import UpstreamConnected
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.relay import ClientConnection, UpstreamConnection
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence

PRODUCE_V, FETCH_V = 12, 16
PARTITIONS = 6  # bench.overhead's topic
ROUNDS = 7


class CountingTransport:
    """Counts writes and bytes; never buffers, so the relay never pauses."""

    def __init__(self) -> None:
        self.calls = self.parts = self.bytes = 0

    def writelines(self, parts: Any) -> None:
        self.calls += 1
        for part in parts:
            self.parts += 1
            self.bytes += len(part)

    def write(self, data: Any) -> None:
        self.writelines([data])

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def sized(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def produce_pair(correlation_id: int, records: bytes) -> tuple[bytes, bytes]:
    """As a Java producer sends them to a 6-partition topic: one batch per partition."""
    share = len(records) // PARTITIONS
    topics = [{"Name": "bench", "PartitionData": [{"Index": i, "Records": records[:share]}
                                                  for i in range(PARTITIONS)]}]
    body = schema.encode(produce.REQUEST, PRODUCE_V, schema.new(
        produce.REQUEST, PRODUCE_V, Acks=-1, TimeoutMs=30000, TopicData=topics))
    answer = schema.encode(produce.RESPONSE, PRODUCE_V, schema.new(produce.RESPONSE, PRODUCE_V, Responses=[
        {"Name": "bench", "PartitionResponses": [{"Index": i, "BaseOffset": 7} for i in range(PARTITIONS)]}]))
    return (sized(encode_request_header(0, PRODUCE_V, correlation_id, "producer-1") + body),
            sized(struct.pack(">i", correlation_id) + b"\x00" + answer))


def fetch_pair(correlation_id: int, records: bytes) -> tuple[bytes, bytes]:
    share = len(records) // PARTITIONS
    body = schema.encode(fetch.REQUEST, FETCH_V, schema.new(fetch.REQUEST, FETCH_V, Topics=[
        {"Topic": "bench", "Partitions": [{"Partition": i, "FetchOffset": 0} for i in range(PARTITIONS)]}]))
    answer = schema.encode(fetch.RESPONSE, FETCH_V, schema.new(fetch.RESPONSE, FETCH_V, Responses=[
        {"Topic": "bench", "Partitions": [{"PartitionIndex": i, "HighWatermark": 9, "Records": records[:share]}
                                          for i in range(PARTITIONS)]}]))
    return (sized(encode_request_header(1, FETCH_V, correlation_id, "consumer-1") + body),
            sized(struct.pack(">i", correlation_id) + b"\x00" + answer))


def relay_pair() -> tuple[ClientConnection, UpstreamConnection, CountingTransport, CountingTransport]:
    context = ProxyContext(proxy_config({"A": "127.0.0.1:1"}, "A"), Metrics(clusters=["A"]))
    transactions = TransactionFence()
    context.interceptors.append(SwitchInterceptor(context, ProduceFence(transactions), transactions))
    client, upstream = ClientConnection(context, None), None
    to_client, to_broker = CountingTransport(), CountingTransport()
    client.transport = client._reading.transport = to_client  # type: ignore[assignment]
    context.clients.add(client)
    upstream = UpstreamConnection(client)
    upstream.transport = upstream.reading.transport = to_broker  # type: ignore[assignment]
    client.route = context.route(None)
    client._upstream = upstream
    client.handle(UpstreamConnected(context.virtual.mapper("A")))
    return client, upstream, to_client, to_broker


def pieces(data: bytes, chunk: int) -> list[bytes]:
    return [data[start:start + chunk] for start in range(0, len(data), chunk)]


def deliver(protocol: ClientConnection | UpstreamConnection | None, chunks: list[bytes], buffer: memoryview) -> None:
    """Into the protocol's receive buffer (what recv does) and `buffer_updated`, one read per chunk.

    With `protocol=None` only the copies into `buffer` are made: the kernel's share, timed apart.
    """
    for piece in chunks:
        if protocol is not None:
            buffer = protocol.get_buffer(-1)
        buffer[:len(piece)] = piece
        if protocol is not None:
            protocol.buffer_updated(len(piece))


def measure(load: str, records_kib: int, chunk: int, pairs: int) -> dict[str, Any]:
    make = produce_pair if load == "produce" else fetch_pair
    messages = [make(i, bytes(records_kib * 1024)) for i in range(pairs)]
    reads = [(pieces(request, chunk), pieces(answer, chunk)) for request, answer in messages]
    scratch = memoryview(bytearray(1 << 20))
    rounds: list[float] = []
    copies: list[float] = []
    for _ in range(ROUNDS):  # the fastest round: this machine's other load only ever adds time
        client, upstream, to_client, to_broker = relay_pair()
        started = time.process_time()
        for request_reads, answer_reads in reads:
            deliver(client, request_reads, scratch)
            deliver(upstream, answer_reads, scratch)
        rounds.append(time.process_time() - started)
        started = time.process_time()
        for request_reads, answer_reads in reads:
            deliver(None, request_reads, scratch)
            deliver(None, answer_reads, scratch)
        copies.append(time.process_time() - started)
    seconds = max(min(rounds) - min(copies), 0.0)
    relayed = sum(len(r) + len(a) for r, a in messages)
    if to_broker.bytes + to_client.bytes != relayed:
        raise RuntimeError(f"relayed {to_broker.bytes + to_client.bytes} bytes of {relayed}")
    patch_us = response_patch_us(messages[0][1], *((0, PRODUCE_V) if load == "produce" else (1, FETCH_V)))
    return {"load": load, "response_patch_us": round(patch_us, 1), "records_kib": records_kib, "chunk": chunk,
            "us_per_pair": round(1e6 * seconds / pairs, 1),
            "writes_per_pair": round((to_broker.calls + to_client.calls) / pairs, 2),
            "parts_per_pair": round((to_broker.parts + to_client.parts) / pairs, 2),
            "python_cpu_s_per_gib": round(seconds / (relayed / 2**30), 3)}


def response_patch_us(answer: bytes, key: int, version: int) -> float:
    """The core's rewrite of one response alone (the zero-copy patcher), fastest of ROUNDS x 200 calls."""
    core = relay_pair()[0]._core
    mapper = core._mapper
    assert mapper is not None
    frame = memoryview(answer)[4:]
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(200):
            core._rewrite_response(frame, key, version, mapper)
        best = min(best, (time.process_time() - started) / 200)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records-kib", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=16384)
    parser.add_argument("--pairs", type=int, default=1000)
    args = parser.parse_args(argv)
    results = [measure(load, args.records_kib, args.chunk, args.pairs) for load in ("produce", "fetch")]
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
