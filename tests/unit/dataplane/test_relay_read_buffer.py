"""The relay writes frames straight out of its shared read buffer, and never lets a read overwrite them.

The protocols are driven as uvloop drives them (`get_buffer`, fill, `buffer_updated`) with
transports that record what they are asked to write; a "full" transport keeps the parts it was
given, unsent, as uvloop does with a view it could not send at once.
"""

from __future__ import annotations

from typing import Any

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.messages import metadata
from proxy.dataplane.connection import UpstreamConnected
from proxy.dataplane.context import READ_BUFFER_BYTES, ProxyContext
from proxy.dataplane.relay import ClientConnection, UpstreamConnection
from proxy.metrics import Metrics
from tests.unit.dataplane.test_connection import METADATA_V, list_offsets, produce_request, request, response


class RecordingTransport:
    """Keeps every part it is given; `full` makes it report them as still unsent."""

    def __init__(self, full: bool = False) -> None:
        self.parts: list[Any] = []
        self.full = full

    def writelines(self, parts: list[Any]) -> None:
        self.parts += parts

    def wire(self) -> bytes:
        return b"".join(bytes(part) for part in self.parts)

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self.parts)) if self.full else 0

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Relay:
    """A connected client/upstream pair on a real context, with recording transports."""

    def __init__(self, upstream_full: bool = False) -> None:
        self.context = ProxyContext(proxy_config({"A": "127.0.0.1:1"}, "A"), Metrics(clusters=["A"]))
        self.client = ClientConnection(self.context, None)
        self.to_client, self.to_upstream = RecordingTransport(), RecordingTransport(upstream_full)
        self.client.transport = self.client._reading.transport = self.to_client  # type: ignore[assignment]
        self.context.clients.add(self.client)
        self.upstream = UpstreamConnection(self.client)
        self.upstream.transport = self.upstream.reading.transport = self.to_upstream  # type: ignore[assignment]
        self.client.route = self.context.route(None)
        self.client._upstream = self.upstream
        self.client.handle(UpstreamConnected(self.context.virtual.mapper("A")))

    @staticmethod
    def read(protocol: ClientConnection | UpstreamConnection, data: bytes, chunk: int = 1 << 20) -> None:
        """As uvloop reads: into the buffer get_buffer returns, then buffer_updated, `chunk` at a time."""
        for start in range(0, len(data), chunk):
            piece = data[start:start + chunk]
            buffer = protocol.get_buffer(-1)
            buffer[:len(piece)] = piece
            protocol.buffer_updated(len(piece))


def test_a_whole_frame_goes_out_as_a_view_of_the_read_buffer() -> None:
    relay = Relay()
    relay.read(relay.client, produce_request(1))
    assert relay.to_upstream.wire() == produce_request(1)
    assert any(isinstance(p, memoryview) and p.obj is relay.context.read_buffer.obj for p in relay.to_upstream.parts)


def test_views_a_full_transport_keeps_survive_the_next_read() -> None:
    relay = Relay(upstream_full=True)
    first_buffer = relay.context.read_buffer
    relay.read(relay.client, produce_request(1))
    assert relay.context.read_buffer is not first_buffer  # the transport keeps a view of it
    relay.read(relay.client, list_offsets(2) * 40)  # would overwrite the first request in place
    assert relay.to_upstream.wire() == produce_request(1) + list_offsets(2) * 40


def test_behind_bytes_already_queued_views_of_the_read_buffer_are_copied() -> None:
    relay = Relay(upstream_full=True)
    relay.to_upstream.parts.append(b"queued earlier")
    first_buffer = relay.context.read_buffer
    relay.read(relay.client, produce_request(1))
    assert relay.context.read_buffer is first_buffer  # nothing of it is kept
    assert not any(isinstance(p, memoryview) and p.obj is first_buffer.obj for p in relay.to_upstream.parts)
    assert relay.to_upstream.wire() == b"queued earlier" + produce_request(1)


def test_a_pinned_read_buffer_counts_in_the_budget_until_its_transport_drains() -> None:
    relay = Relay(upstream_full=True)
    relay.read(relay.client, produce_request(1))  # sent into an empty queue, then kept: pinned
    unsent = len(produce_request(1))
    assert relay.client.buffered_bytes() == unsent + READ_BUFFER_BYTES
    relay.read(relay.client, produce_request(2))  # queued behind it: copied, no second pin
    unsent += len(produce_request(2))
    assert relay.client.buffered_bytes() == unsent + READ_BUFFER_BYTES
    assert relay.context.budget.total == unsent + READ_BUFFER_BYTES
    relay.to_upstream.full = False  # the socket took everything
    assert relay.client.buffered_bytes() == 0
    relay.to_upstream.full = True
    assert relay.client.buffered_bytes() == unsent  # the pin went with the drained queue


def test_the_read_buffer_is_kept_while_everything_is_sent_at_once() -> None:
    relay = Relay()
    first_buffer = relay.context.read_buffer
    relay.read(relay.client, produce_request(1) + produce_request(2))
    relay.read(relay.upstream, response(1, b"ok") + response(2, b"ok"))
    assert relay.context.read_buffer is first_buffer


def test_a_frame_split_across_many_reads_is_relayed_whole() -> None:
    relay = Relay()
    requests = produce_request(1) + list_offsets(2) + produce_request(3)
    relay.read(relay.client, requests, chunk=7)
    assert relay.to_upstream.wire() == requests
    answers = response(1, b"a" * 300) + response(2, b"b") + response(3, b"c" * 50)
    relay.read(relay.upstream, answers, chunk=13)
    assert relay.to_client.wire() == answers


def test_a_rewritten_response_arriving_in_pieces_is_rewritten_as_if_whole() -> None:
    upstream = schema.new(metadata.RESPONSE, METADATA_V, ClusterId="real-a", ControllerId=7, Topics=[],
                          Brokers=[{"NodeId": 7, "Host": "10.1.1.7", "Port": 9092, "Rack": None}])
    answer = response(5, schema.encode(metadata.RESPONSE, METADATA_V, upstream))
    relay = Relay()
    answers = []
    for correlation_id, chunk in ((5, 1 << 20), (6, 3)):
        relay.read(relay.client, request(3, METADATA_V, correlation_id, b"\x01\x00\x00"))
        relay.read(relay.upstream, response(correlation_id, answer[9:]), chunk)
        answers.append(relay.to_client.wire())
        relay.to_client.parts.clear()
    whole, pieces = answers
    assert pieces[8:] == whole[8:] and whole[8:] != answer[8:]  # all but the correlation id
    seen = schema.decode(metadata.RESPONSE, METADATA_V, pieces[9:])
    mapper = relay.context.virtual.mapper("A")
    assert (seen.Brokers[0].Host, seen.Brokers[0].Port) == (mapper.host, mapper.port(seen.Brokers[0].NodeId))


def test_bytes_and_requests_are_counted_once_the_metrics_are_read() -> None:
    relay = Relay()
    relay.read(relay.client, list_offsets(1) + list_offsets(2), chunk=5)
    relay.read(relay.upstream, response(1, b"x") + response(2, b"y"))
    registry = relay.context.metrics.registry
    sent = len(list_offsets(1)) * 2
    assert registry.get_sample_value("kfp_bytes_total", {"direction": "client_in"}) == sent
    assert registry.get_sample_value("kfp_bytes_total", {"direction": "upstream_out"}) == sent
    assert registry.get_sample_value("kfp_bytes_total", {"direction": "client_out"}) == 2 * len(response(1, b"x"))
    assert registry.get_sample_value("kfp_requests_total", {"api": "ListOffsets"}) == 2
    assert registry.get_sample_value("kfp_request_latency_seconds_count", {"api": "ListOffsets"}) == 2
