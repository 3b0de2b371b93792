"""Low-level codec speed: request header peek and frame splitting. Prints one JSON object.

    .venv/bin/python -m bench.header_bench

header_peek_ns: median time of one `peek_request_header` on a Metadata v12 header (flexible, so the
tagged section is read too) with a typical client id, timed in rounds of 1000 calls to keep the
clock's own cost out. frame_split_mb_s: median throughput of `FrameSplitter` on a mixed stream
(1 KiB requests and 256 KiB fetch-sized responses) fed in 64 KiB chunks, as a socket would deliver it;
frame_split_small_mb_s the same for 100-byte frames only; boundary_scan_mb_s the pass-through scanner
on the mixed stream. Target (issue 3): header_peek_ns <= 2000.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from protocol.api_keys import ApiKey
from protocol.framing import FrameBoundaryScanner, FrameSplitter, frame
from protocol.headers import encode_request_header, peek_request_header

ROUNDS = 300
CALLS_PER_ROUND = 1000
CHUNK = 65536


def median_ns_per_call(call: Callable[[], object]) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(CALLS_PER_ROUND):
            call()
        samples.append((time.perf_counter_ns() - start) / CALLS_PER_ROUND)
    return statistics.median(samples)


def header_peek_ns() -> float:
    header = encode_request_header(ApiKey.METADATA, 12, 123456, "consumer-my-group-1")
    body = memoryview(bytearray(header + bytes(200)))
    return median_ns_per_call(lambda: peek_request_header(body))


def chunks_of(bodies: list[bytes]) -> list[bytes]:
    stream = b"".join(frame(b) for b in bodies)
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def median_mb_s(run: Callable[[list[bytes]], None], chunks: list[bytes], repeats: int = 30) -> float:
    size = sum(map(len, chunks))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        run(chunks)
        samples.append(size / ((time.perf_counter_ns() - start) / 1e9) / 1e6)
    return statistics.median(samples)


def split_all(chunks: list[bytes]) -> None:
    splitter = FrameSplitter(1 << 24)
    for chunk in chunks:
        splitter.feed(chunk)
        while splitter.next_frame() is not None:
            pass


def scan_all(chunks: list[bytes]) -> None:
    scanner = FrameBoundaryScanner(1 << 24, peek=8)
    for chunk in chunks:
        scanner.feed(chunk)


def main() -> None:
    mixed = chunks_of(([bytes(1024)] * 64 + [bytes(256 * 1024)]) * 16)
    small = chunks_of([bytes(100)] * 40_000)
    result = {
        "header_peek_ns": round(header_peek_ns(), 1),
        "frame_split_mb_s": round(median_mb_s(split_all, mixed), 1),
        "frame_split_small_mb_s": round(median_mb_s(split_all, small), 1),
        "boundary_scan_mb_s": round(median_mb_s(scan_all, mixed), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
