"""Every message at every version: encode -> decode is the identity, and damaged bytes stay contained.

Properties, for each spec and each version a 4.4 broker serves:
- a random valid message survives encode -> decode unchanged, unknown tags included, and the
  decoded value re-encodes to the same bytes;
- every truncation of a valid encoding raises DecodeError, nothing else;
- single-byte mutations of it (up to 40 positions), and random bytes, raise only ProtocolError, and whatever
  still decodes encodes again.
Messages are small, so each example runs dozens of cheap decodes: about 210k per suite run.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import DecodeError, ProtocolError
from protocol.messages import MESSAGES
from protocol.schema import MessageSpec, decode, encode
from tests.unit.protocol.messages.strategies import message, unknown_tags_of

CASES = [
    pytest.param(spec, version, id=f"{spec.name}-v{version}")
    for module in sorted(MESSAGES.values(), key=lambda module: module.__name__)
    for spec in (module.REQUEST, module.RESPONSE)
    for version in range(spec.version_range[0], spec.version_range[1] + 1)
]
MAX_MUTATIONS = 40  # positions mutated per message: large ones mostly still decode, and cost more
FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decodes_cleanly_or_raises_protocol_error(spec: MessageSpec, version: int, data: bytes) -> None:
    try:
        decoded = decode(spec, version, data)
    except ProtocolError:
        return
    encode(spec, version, decoded)


def _assert_truncations_fail(spec: MessageSpec, version: int, encoded: bytes) -> None:
    for cut in range(len(encoded)):
        with pytest.raises(DecodeError):
            decode(spec, version, encoded[:cut])


def _assert_mutations_contained(spec: MessageSpec, version: int, encoded: bytes, flip: int) -> None:
    for position in range(0, len(encoded), 1 + len(encoded) // MAX_MUTATIONS):
        mutated = bytearray(encoded)
        mutated[position] ^= flip
        _decodes_cleanly_or_raises_protocol_error(spec, version, bytes(mutated))


@pytest.mark.parametrize(("spec", "version"), CASES)
@FAST
@given(data=st.data(), flip=st.integers(1, 255))
def test_valid_messages_round_trip_exactly_and_damaged_ones_fail_cleanly(
    spec: MessageSpec, version: int, data: st.DataObject, flip: int
) -> None:
    original = data.draw(message(spec, version))
    encoded = encode(spec, version, original)
    decoded = decode(spec, version, encoded)
    assert decoded == original
    assert unknown_tags_of(decoded) == unknown_tags_of(original)
    assert encode(spec, version, decoded) == encoded
    _assert_truncations_fail(spec, version, encoded)
    _assert_mutations_contained(spec, version, encoded, flip)


@pytest.mark.parametrize(("spec", "version"), CASES)
@settings(FAST, max_examples=25)
@given(blob=st.binary(max_size=48))
def test_random_bytes_raise_only_protocol_errors(spec: MessageSpec, version: int, blob: bytes) -> None:
    for start in range(len(blob) + 1):
        _decodes_cleanly_or_raises_protocol_error(spec, version, blob[start:])
