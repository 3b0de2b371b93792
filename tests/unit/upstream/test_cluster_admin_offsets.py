"""OffsetFetch answers read by the switch: an error is never a silently missing offset."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import schema
from protocol.messages import offset_fetch
from proxy.upstream.cluster_admin import AdminError, RetriableAdminError, committed_offsets_in


def answer(version: int, group_error: int = 0, partition_error: int = 0) -> Any:
    partitions = [{"PartitionIndex": 0, "CommittedOffset": 42, "CommittedLeaderEpoch": -1, "Metadata": "",
                   "ErrorCode": partition_error},
                  {"PartitionIndex": 1, "CommittedOffset": -1, "CommittedLeaderEpoch": -1, "Metadata": "",
                   "ErrorCode": 0}]
    if version >= 8:
        body = {"ThrottleTimeMs": 0, "Groups": [{"GroupId": "g", "ErrorCode": group_error, "Topics": [
            {"Name": "t", "Partitions": partitions}]}]}
    else:
        body = {"ThrottleTimeMs": 0, "ErrorCode": group_error, "Topics": [{"Name": "t", "Partitions": partitions}]}
    full = schema.default_value(offset_fetch.RESPONSE.fields, version)
    full.update(body)
    return schema.decode(offset_fetch.RESPONSE, version, schema.encode(offset_fetch.RESPONSE, version, full))


@pytest.mark.parametrize("version", [5, 7, 8, 9])
def test_offsets_are_read_and_partitions_without_a_commit_left_out(version: int) -> None:
    assert committed_offsets_in(answer(version), "g") == {("t", 0): 42}


@pytest.mark.parametrize("version", [5, 9])
@pytest.mark.parametrize("code", [14, 16])  # COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR
def test_a_group_level_error_asks_again_instead_of_returning_nothing(version: int, code: int) -> None:
    with pytest.raises(RetriableAdminError, match=f"error {code}"):
        committed_offsets_in(answer(version, group_error=code), "g")


def test_a_pending_transactional_commit_asks_again() -> None:
    with pytest.raises(RetriableAdminError, match="t-0 error 88"):
        committed_offsets_in(answer(9, partition_error=88), "g")


def test_any_other_error_is_an_admin_error() -> None:
    with pytest.raises(AdminError, match="error 30") as raised:  # GROUP_AUTHORIZATION_FAILED
        committed_offsets_in(answer(9, group_error=30), "g")
    assert not isinstance(raised.value, RetriableAdminError)
