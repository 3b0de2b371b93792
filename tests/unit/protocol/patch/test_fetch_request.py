"""Fetch requests leave the proxy with no leader epoch a broker could fence (issue 15).

The oracle is the schema layer: decode, set every CurrentLeaderEpoch to -1, encode. The patcher
must agree byte for byte at every version, change nothing else (LastFetchedEpoch comes from the
broker's own batches), and return the input itself when there is nothing to clear.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import DecodeError
from protocol.messages import fetch
from protocol.patch.fetch_request import clear_leader_epochs
from protocol.schema import decode, encode, new
from tests.unit.protocol.messages.strategies import message
from tests.unit.protocol.patch.oracle import joined

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _partitions(msg: Any) -> list[Any]:
    return [partition for topic in msg.Topics for partition in topic.Partitions]


def _librdkafka_fetch(version: int) -> bytes:
    """What librdkafka sends when metadata said epoch -1: CurrentLeaderEpoch 0 (rdkafka_fetcher.c)."""
    partition = {"Partition": 3, "CurrentLeaderEpoch": 0, "FetchOffset": 276, "LastFetchedEpoch": 0,
                 "PartitionMaxBytes": 1 << 20}
    topic = {"Topic": "orders", "Partitions": [partition, dict(partition, Partition=5, CurrentLeaderEpoch=-1)]}
    return encode(fetch.REQUEST, version, new(fetch.REQUEST, version, MaxWaitMs=500, MinBytes=1,
                                              IsolationLevel=1, Topics=[topic]))


@pytest.mark.parametrize("version", range(9, 19))
@EXAMPLES
@given(data=st.data())
def test_every_current_leader_epoch_becomes_minus_one_and_nothing_else_changes(version: int,
                                                                               data: st.DataObject) -> None:
    msg = data.draw(message(fetch.REQUEST, version))
    body = encode(fetch.REQUEST, version, msg)
    for partition in _partitions(msg):
        partition.CurrentLeaderEpoch = -1
    assert joined(clear_leader_epochs(memoryview(body), version)) == encode(fetch.REQUEST, version, msg)


@pytest.mark.parametrize("version", [11, 12, 13, 17])
def test_librdkafkas_invented_epoch_zero_is_cleared_but_its_last_fetched_epoch_is_kept(version: int) -> None:
    out = joined(clear_leader_epochs(memoryview(_librdkafka_fetch(version)), version))
    partitions = _partitions(decode(fetch.REQUEST, version, out))
    assert [p.CurrentLeaderEpoch for p in partitions] == [-1, -1]
    if version >= 12:
        assert [p.LastFetchedEpoch for p in partitions] == [0, 0]


@pytest.mark.parametrize("version", range(9, 19))
def test_a_request_with_no_epoch_to_clear_is_returned_as_it_is(version: int) -> None:
    msg = decode(fetch.REQUEST, version, _librdkafka_fetch(version))
    for partition in _partitions(msg):
        partition.CurrentLeaderEpoch = -1
    body = memoryview(encode(fetch.REQUEST, version, msg))
    out = clear_leader_epochs(body, version)
    assert len(out) == 1 and out[0] is body


@pytest.mark.parametrize("version", range(4, 9))
def test_versions_before_current_leader_epoch_are_returned_unread(version: int) -> None:
    garbage = memoryview(b"\x00 not a fetch request")
    assert clear_leader_epochs(garbage, version)[0] is garbage


@pytest.mark.parametrize("version", [9, 12, 15])
def test_a_request_cut_before_its_topics_end_is_a_decode_error(version: int) -> None:
    body = _librdkafka_fetch(version)
    for cut in range(0, len(body) - 8, 3):  # what follows the topics (forgotten topics, rack) is never read
        with pytest.raises(DecodeError):
            clear_leader_epochs(memoryview(body[:cut]), version)
