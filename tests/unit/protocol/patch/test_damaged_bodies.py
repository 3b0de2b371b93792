"""Damaged bodies: patchers raise DecodeError and nothing else, and never read past their view.

Every truncation is a memoryview cut from the whole valid body, so the bytes after the cut are
still there in the underlying buffer: a patcher that read past its view would find them and
succeed instead of raising. Single-byte mutations may be accepted (a patcher does not check what
it only forwards, such as UTF-8 in names), but whenever the schema layer also accepts a mutated
body and re-encodes it to the same bytes, the patcher must produce exactly what it produces.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import DecodeError, ProtocolError
from protocol.patch.metadata import patch_metadata
from protocol.schema import decode, encode
from tests.unit.protocol.patch.oracle import (
    APIS,
    Api,
    FakeNodeMap,
    bodies,
    case_id,
    case_params,
    fast_path,
    slow_path,
)

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNREAD = {("Produce", v) for v in range(3, 10)} | {("Fetch", v) for v in range(4, 11)}
READ_CASES = [case for case in case_params() if (case[0].name, case[1]) not in UNREAD]


def _patch_or_decode_error(api: Api, version: int, body: memoryview) -> None:
    with contextlib.suppress(DecodeError):
        api.patch(body, version, FakeNodeMap())


def _canonical(api: Api, version: int, body: bytes) -> bool:
    """The schema layer accepts `body` and would write it back byte for byte."""
    try:
        return encode(api.spec, version, decode(api.spec, version, body)) == body
    except ProtocolError:
        return False


@pytest.mark.parametrize(("api", "version"), READ_CASES, ids=case_id)
@FUZZ
@given(data=st.data())
def test_every_truncation_raises_decode_error(api: Api, version: int, data: st.DataObject) -> None:
    whole = memoryview(data.draw(bodies(api, version)))
    for cut in range(len(whole)):
        with pytest.raises(DecodeError):
            api.patch(whole[:cut], version, FakeNodeMap())


@pytest.mark.parametrize(("api", "version"), case_params(), ids=case_id)
@FUZZ
@given(data=st.data(), flip=st.integers(1, 255))
def test_mutations_raise_only_decode_error(api: Api, version: int, data: st.DataObject, flip: int) -> None:
    body = data.draw(bodies(api, version))
    for position in range(len(body)):
        mutated = bytearray(body)
        mutated[position] ^= flip
        _patch_or_decode_error(api, version, memoryview(mutated))


@pytest.mark.parametrize(("api", "version"), READ_CASES, ids=case_id)
@settings(FUZZ, max_examples=12)
@given(data=st.data(), flip=st.integers(1, 255))
def test_mutations_the_schema_accepts_are_patched_like_the_schema_path(
    api: Api, version: int, data: st.DataObject, flip: int
) -> None:
    body = data.draw(bodies(api, version))
    positions = data.draw(st.lists(st.integers(0, len(body) - 1), max_size=25)) if body else []
    for position in positions:
        mutated = bytearray(body)
        mutated[position] ^= flip
        if _canonical(api, version, bytes(mutated)):
            expected = slow_path(api, version, bytes(mutated), FakeNodeMap())
            assert fast_path(api, version, bytes(mutated), FakeNodeMap()) == expected


@pytest.mark.parametrize(("api", "version"), case_params(), ids=case_id)
@settings(FUZZ, max_examples=25)
@given(blob=st.binary(max_size=64))
def test_random_bytes_raise_only_decode_error(api: Api, version: int, blob: bytes) -> None:
    for start in range(len(blob) + 1):
        _patch_or_decode_error(api, version, memoryview(blob)[start:])


@pytest.mark.parametrize("version", range(14))
@FUZZ
@given(data=st.data(), flip=st.integers(1, 255))
def test_brokers_only_metadata_raises_only_decode_error(version: int, data: st.DataObject, flip: int) -> None:
    metadata = next(api for api in APIS if api.name == "Metadata")
    body = data.draw(bodies(metadata, version))
    for position in range(len(body)):
        mutated = bytearray(body)
        mutated[position] ^= flip
        for view in (memoryview(mutated), memoryview(mutated)[:position]):
            with contextlib.suppress(DecodeError):
                patch_metadata(view, version, FakeNodeMap(), partitions=False)
