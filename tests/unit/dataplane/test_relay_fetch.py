"""What the relay sends upstream for a client's Fetch: the same frame, minus leader epochs (issue 15)."""

from __future__ import annotations

import pytest

from protocol.headers import encode_request_header, peek_request_header
from protocol.messages import fetch
from protocol.schema import decode, encode, new
from proxy.dataplane.connection import fetch_without_epochs


def _frame(version: int, epoch: int) -> bytes:
    partition = {"Partition": 1, "CurrentLeaderEpoch": epoch, "FetchOffset": 276, "PartitionMaxBytes": 1 << 20}
    body = encode(fetch.REQUEST, version, new(fetch.REQUEST, version, MaxWaitMs=500, MinBytes=1,
                                              Topics=[{"Topic": "t", "Partitions": [partition]}]))
    return encode_request_header(1, version, 77, "rdkafka") + body


@pytest.mark.parametrize("version", [11, 12])
def test_a_librdkafka_fetch_at_epoch_zero_reaches_the_broker_with_no_epoch(version: int) -> None:
    frame = memoryview(_frame(version, epoch=0))
    header = peek_request_header(frame)
    sent = b"".join(fetch_without_epochs(frame, header.header_length, version))
    assert int.from_bytes(sent[:4], "big") == len(frame) == len(sent) - 4
    assert peek_request_header(sent[4:]).correlation_id == 77
    upstream = decode(fetch.REQUEST, version, sent[4 + header.header_length:])
    assert upstream.Topics[0].Partitions[0].CurrentLeaderEpoch == -1


def test_a_fetch_without_epochs_goes_out_as_the_clients_own_frame() -> None:
    frame = memoryview(_frame(12, epoch=-1))
    out = fetch_without_epochs(frame, peek_request_header(frame).header_length, 12)
    assert out[1] is frame
