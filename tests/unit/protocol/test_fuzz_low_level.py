"""Fuzzing the low-level codecs: random and mutated input may only raise ProtocolError subclasses.

Together these run 21k examples; each property also checks what must hold when the
input happens to be accepted, so a test cannot pass by raising on everything.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatchBuilder

from protocol.api_keys import API_TABLE
from protocol.errors import ProtocolError
from protocol.framing import FrameBoundaryScanner, FrameSplitter, frame
from protocol.headers import encode_request_header, peek_request_header, response_header_length
from protocol.record_batch import HEADER_SIZE, iter_batches, rewrite_producer, verify_crc


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


KEY_VERSIONS = [
    (k, v) for k, info in API_TABLE.items() for v in range(info.min_version, info.max_version + 1)
]


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """Flip, overwrite, insert or cut bytes of a valid input."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "set", "insert", "cut")))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "cut":
            del out[at:]
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif out:
            out[at] = out[at] ^ (1 << draw(st.integers(0, 7))) if op == "flip" else draw(st.integers(0, 255))
    return bytes(out)


@fuzz(4000)
@given(st.binary(max_size=300).flatmap(lambda b: st.tuples(st.just(b), chunked(b))))
def test_splitter_on_random_bytes(case: tuple[bytes, list[bytes]]) -> None:
    data, chunks = case
    splitter = FrameSplitter(64)
    taken = 0
    try:
        for chunk in chunks:
            splitter.feed(chunk)
            while (body := splitter.next_frame()) is not None:
                assert len(body) <= 64
                taken += 4 + len(body)
    except ProtocolError:
        return
    assert taken + splitter.buffered_bytes == len(data)


@fuzz(2500)
@given(
    st.lists(st.binary(max_size=40), max_size=6).flatmap(
        lambda bodies: st.tuples(st.just(bodies), chunked(b"".join(map(frame, bodies))), st.integers(0, 10))
    )
)
def test_scanner_agrees_with_splitter(case: tuple[list[bytes], list[bytes], int]) -> None:
    bodies, chunks, peek = case
    scanner = FrameBoundaryScanner(64, peek)
    heads = [head for chunk in chunks for head in scanner.feed(chunk)]
    assert [(h.size, h.head) for h in heads] == [(len(b), b[:peek]) for b in bodies]
    assert scanner.position == sum(4 + len(b) for b in bodies)


@fuzz(3000)
@given(st.binary(max_size=80).flatmap(lambda b: st.tuples(st.just(b), chunked(b), st.integers(0, 6))))
def test_scanner_on_random_bytes(case: tuple[bytes, list[bytes], int]) -> None:
    _, chunks, peek = case
    scanner = FrameBoundaryScanner(32, peek)
    try:
        for chunk in chunks:
            for head in scanner.feed(chunk):
                assert 0 <= head.size <= 32 and len(head.head) == min(peek, head.size)
    except ProtocolError:
        pass


@fuzz(4000)
@given(st.binary(max_size=64))
def test_peek_request_header_on_random_bytes(data: bytes) -> None:
    try:
        header = peek_request_header(memoryview(data))
    except ProtocolError:
        return
    assert 10 <= header.header_length <= len(data)


@fuzz(4000)
@given(
    st.sampled_from(KEY_VERSIONS).flatmap(
        lambda kv: mutated(encode_request_header(kv[0], kv[1], 77, "client") + b"\x00\x01body")
    )
)
def test_peek_request_header_on_mutated_headers(data: bytes) -> None:
    try:
        header = peek_request_header(data)
        response_header_length(header.api_key, header.api_version, data)
    except ProtocolError:
        return
    assert header.header_length <= len(data)


def real_batches() -> bytes:
    out = bytearray()
    for n in (1, 3):
        builder = DefaultRecordBatchBuilder(2, 0, True, 4001, 2, 5, 1 << 16)
        for i in range(n):
            builder.append(i, timestamp=1000 + i, key=b"k", value=b"value", headers=[])
        out += builder.build()
    return bytes(out)


REAL_BATCHES = real_batches()


@fuzz(3500)
@given(st.one_of(st.binary(max_size=200), mutated(REAL_BATCHES)))
def test_record_batches_on_random_and_mutated_bytes(data: bytes) -> None:
    blob = bytearray(data)
    try:
        for offset, header in iter_batches(blob):
            assert offset + HEADER_SIZE <= offset + header.size <= len(blob)
            verify_crc(blob, offset)
            rewrite_producer(blob, offset, 1, 1)
            assert verify_crc(blob, offset)
    except ProtocolError:
        pass
