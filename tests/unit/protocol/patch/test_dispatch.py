"""The dispatch table: one patcher per hot response, accepting exactly the versions its spec has."""

from __future__ import annotations

import pytest

from protocol.errors import UnsupportedVersion
from protocol.messages import MESSAGES
from protocol.patch import PATCHERS, patch, patched_versions
from tests.unit.protocol.patch.oracle import FakeNodeMap


@pytest.mark.parametrize("api_key", sorted(PATCHERS))
def test_patched_versions_are_the_response_specs_versions(api_key: int) -> None:
    low, high = MESSAGES[api_key].RESPONSE.version_range
    assert patched_versions(api_key) == range(low, high + 1)


@pytest.mark.parametrize("api_key", sorted(PATCHERS))
def test_a_version_outside_the_range_is_unsupported(api_key: int) -> None:
    with pytest.raises(UnsupportedVersion):
        patch(api_key, patched_versions(api_key).stop, memoryview(b""), FakeNodeMap())


def test_an_api_without_a_patcher_has_no_versions_and_is_unsupported() -> None:
    assert patched_versions(60) == range(0)
    with pytest.raises(UnsupportedVersion):
        patch(60, 0, memoryview(b""), FakeNodeMap())


def test_the_hot_responses_have_patchers() -> None:
    assert sorted(PATCHERS) == [0, 1, 3, 10]
