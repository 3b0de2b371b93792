"""The in-place topic-id walkers agree with the schema layer at every version, and fail only cleanly.

The oracle is decode -> map every TopicId -> encode. Both sides get the same id map, one that
changes every id it is asked about except the zero id (so a walker that missed or double-mapped an
id, or touched a byte beside it, shows up as a byte difference), and one map that knows nothing
(the body must come out unchanged).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import DecodeError, ProtocolError, UnsupportedVersion
from protocol.messages import fetch, metadata, produce
from protocol.patch.topic_ids import carries_ids, map_request, map_response
from protocol.schema import MessageSpec, decode, encode, new
from tests.unit.protocol.messages.strategies import message

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZERO = bytes(16)

# (api key, request?, spec, versions with topic ids)
CASES = [
    (0, True, produce.REQUEST, range(13, 14)),
    (0, False, produce.RESPONSE, range(13, 14)),
    (1, True, fetch.REQUEST, range(13, 19)),
    (1, False, fetch.RESPONSE, range(13, 19)),
    (3, True, metadata.REQUEST, range(10, 14)),
]
PARAMS = [(key, request, spec, version) for key, request, spec, versions in CASES for version in versions]
IDS = [f"{spec.name}-v{version}" for _key, _request, spec, version in PARAMS]


class Flipped(dict[bytes, bytes]):
    """Every id maps to its bitwise complement; the zero id (no topic) stays zero."""

    def __missing__(self, raw: bytes) -> bytes:
        return raw if raw == ZERO else bytes(b ^ 0xFF for b in raw)


class Unknown(dict[bytes, bytes]):
    def __missing__(self, raw: bytes) -> bytes:
        return raw


def _walk(node: Any, ids: dict[bytes, bytes]) -> None:
    """The oracle: every TopicId in a decoded message mapped."""
    if isinstance(node, list):
        for item in node:
            _walk(item, ids)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "TopicId" and isinstance(value, uuid.UUID):
                node[key] = uuid.UUID(bytes=ids[value.bytes])
            else:
                _walk(value, ids)


def _mapped(key: int, is_request: bool, version: int, body: bytes, ids: dict[bytes, bytes]) -> bytes:
    buffer = bytearray(body)
    (map_request if is_request else map_response)(key, version, memoryview(buffer), ids)
    return bytes(buffer)


@pytest.mark.parametrize(("key", "is_request", "spec", "version"), PARAMS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_every_topic_id_is_mapped_as_the_schema_layer_maps_it(key: int, is_request: bool, spec: MessageSpec,
                                                              version: int, data: st.DataObject) -> None:
    msg = data.draw(message(spec, version))
    body = encode(spec, version, msg)
    _walk(msg, Flipped())
    assert _mapped(key, is_request, version, body, Flipped()) == encode(spec, version, msg)


@pytest.mark.parametrize(("key", "is_request", "spec", "version"), PARAMS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_ids_nobody_knows_leave_the_body_as_it_was(key: int, is_request: bool, spec: MessageSpec, version: int,
                                                   data: st.DataObject) -> None:
    body = encode(spec, version, data.draw(message(spec, version)))
    assert _mapped(key, is_request, version, body, Unknown()) == body


@pytest.mark.parametrize(("key", "is_request", "spec", "version"), PARAMS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_a_truncated_body_is_a_decode_error(key: int, is_request: bool, spec: MessageSpec, version: int,
                                            data: st.DataObject) -> None:
    body = encode(spec, version, data.draw(message(spec, version)))
    cut = data.draw(st.integers(0, max(len(body) - 1, 0)))
    try:
        out = _mapped(key, is_request, version, body[:cut], Flipped())
    except DecodeError:
        return
    # A cut in what the walker never reads (what follows the topics) is the broker's or the client's to
    # find; every id it did map must be mapped as in the whole body.
    assert out == _mapped(key, is_request, version, body, Flipped())[:cut]


@pytest.mark.parametrize(("key", "is_request", "version"), [(0, True, 13), (0, False, 13), (1, True, 17),
                                                         (1, False, 16), (3, True, 12)])
@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(key: int, is_request: bool, version: int, garbage: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        _mapped(key, is_request, version, garbage, Flipped())


def test_the_ids_are_written_into_the_buffer_given_not_into_a_copy() -> None:
    topic = uuid.uuid4()
    msg = {"TransactionalId": None, "Acks": -1, "TimeoutMs": 1000,
           "TopicData": [{"TopicId": topic, "PartitionData": [{"Index": 0, "Records": b"r" * 64}]}]}
    buffer = bytearray(encode(produce.REQUEST, 13, new(produce.REQUEST, 13, **msg)))
    view = memoryview(buffer)
    map_request(0, 13, view, Flipped())
    assert decode(produce.REQUEST, 13, bytes(buffer)).TopicData[0].TopicId.bytes == Flipped()[topic.bytes]


@pytest.mark.parametrize(("key", "version", "is_request", "expected"), [
    (0, 12, True, False), (0, 13, True, True), (1, 12, False, False), (1, 13, False, True),
    (3, 9, True, False), (3, 10, True, True), (3, 10, False, False), (8, 10, True, False),
])
def test_only_versions_that_name_topics_by_id_are_walked(key: int, version: int, is_request: bool,
                                                         expected: bool) -> None:
    assert carries_ids(key, version, is_request) is expected


def test_a_version_beyond_the_walkers_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedVersion):
        map_request(0, 14, memoryview(bytearray(8)), Flipped())
