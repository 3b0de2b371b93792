"""The connection core without sockets: what each client and upstream byte turns into.

Frames are built with the real codecs and a real `ProxyContext` answers ApiVersions; the switch's
interceptor is the real one with a real `ProduceFence`. Only the sockets are missing.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import encode_request_header
from protocol.messages import api_versions, metadata, produce
from proxy.dataplane.connection import (
    ClientClosed,
    ClientDataReceived,
    CloseConnection,
    Connection,
    FateUnknown,
    PauseClientReading,
    ResumeClientReading,
    SendClient,
    SendUpstream,
    UpstreamClosed,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.context import ProxyContext
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence
from tests.unit.dataplane.playbook import Playbook

PRODUCE_V, LIST_OFFSETS_V, METADATA_V, API_VERSIONS_V = 9, 8, 12, 3
HOLD_LIMIT = 1000


def sized(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def request(key: int, version: int, correlation_id: int, body: bytes = b"") -> bytes:
    return sized(encode_request_header(key, version, correlation_id, "app") + body)


def produce_request(correlation_id: int, acks: int = -1) -> bytes:
    body = schema.encode(produce.REQUEST, PRODUCE_V, schema.new(produce.REQUEST, PRODUCE_V, Acks=acks, TimeoutMs=30000,
                         TopicData=[{"Name": "orders", "PartitionData": [{"Index": 0, "Records": None}]}]))
    return request(0, PRODUCE_V, correlation_id, body)


def list_offsets(correlation_id: int) -> bytes:
    return request(2, LIST_OFFSETS_V, correlation_id, b"opaque: never decoded")


def api_versions_request(correlation_id: int) -> bytes:
    body = schema.encode(api_versions.REQUEST, API_VERSIONS_V, schema.new(
        api_versions.REQUEST, API_VERSIONS_V, ClientSoftwareName="app", ClientSoftwareVersion="1"))
    return request(18, API_VERSIONS_V, correlation_id, body)


def response(correlation_id: int, body: bytes, flexible: bool = True) -> bytes:
    return sized(struct.pack(">i", correlation_id) + (b"\x00" if flexible else b"") + body)


class Client:
    """What interceptors read of a connection: its peer and which port it came in on."""

    peer = "10.0.0.9:50000"
    virtual_node = None


class Proxy:
    """A real ProxyContext and one core on it, with the switch's interceptor installed."""

    def __init__(self) -> None:
        self.context = ProxyContext(proxy_config({"A": "127.0.0.1:1"}, "A"), Metrics(clusters=["A"]))
        transactions = TransactionFence()
        self.fence = ProduceFence(transactions)
        self.context.interceptors.append(SwitchInterceptor(self.context, self.fence, transactions))
        self.client = Client()
        self.core = Connection(self.context, self.client, max_frame_bytes=1 << 20, hold_limit=HOLD_LIMIT)
        self.mapper = self.context.virtual.mapper("A")

    def connected(self) -> Playbook:
        playbook = Playbook(self.core) >> UpstreamConnected(self.mapper)
        assert playbook
        return playbook

    def api_versions_answer(self, correlation_id: int) -> bytes:
        frame = api_versions_request(correlation_id)
        _, body = self.context.api_versions.respond(API_VERSIONS_V, frame[4 + 14:], None)
        return response(correlation_id, body, flexible=False)


@pytest.fixture
def proxy() -> Proxy:
    return Proxy()


def test_pipelined_requests_leave_in_one_write_and_a_local_answer_waits_its_turn(proxy: Proxy) -> None:
    chunk = list_offsets(1) + api_versions_request(2) + list_offsets(3)
    assert (proxy.connected()
            >> ClientDataReceived(chunk)
            << SendUpstream([list_offsets(1) + list_offsets(3)])
            >> UpstreamDataReceived(response(1, b"first"))
            << SendClient([response(1, b"first") + proxy.api_versions_answer(2)])
            >> UpstreamDataReceived(response(3, b"third"))
            << SendClient([response(3, b"third")]))
    assert proxy.core.queued == 0


def test_requests_split_at_every_byte_are_relayed_whole(proxy: Proxy) -> None:
    playbook = proxy.connected()
    stream = list_offsets(1) + list_offsets(2)
    for i in range(len(stream)):
        expected = {len(list_offsets(1)) - 1: [list_offsets(1)], len(stream) - 1: [list_offsets(2)]}.get(i)
        playbook >> ClientDataReceived(stream[i:i + 1])
        if expected:
            playbook << SendUpstream(expected)
    assert playbook
    assert proxy.core.upstream_outstanding == 2


def test_an_acks0_produce_waits_for_no_answer(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1, acks=0) + list_offsets(2))
            << SendUpstream([produce_request(1, acks=0) + list_offsets(2)])
            >> UpstreamDataReceived(response(2, b"offsets"))
            << SendClient([response(2, b"offsets")]))
    assert proxy.core.upstream_outstanding == 0


def test_a_fenced_produce_is_answered_locally_in_order_and_never_reaches_the_broker(proxy: Proxy) -> None:
    proxy.fence.fence()
    assert (proxy.connected()
            >> ClientDataReceived(list_offsets(1) + produce_request(2) + produce_request(3, acks=0))
            << SendUpstream([list_offsets(1)]))
    assert proxy.core.queued == 2  # the fenced answer waits behind ListOffsets; acks=0 is swallowed
    [sent] = proxy.core.handle(UpstreamDataReceived(response(1, b"offsets")))
    assert isinstance(sent, SendClient)
    wire = b"".join(sent.parts)
    assert wire.startswith(response(1, b"offsets"))
    fenced = wire[len(response(1, b"offsets")):]
    assert struct.unpack_from(">ii", fenced) == (len(fenced) - 4, 2)
    answer = schema.decode(produce.RESPONSE, PRODUCE_V, fenced[9:])
    assert answer.Responses[0].PartitionResponses[0].ErrorCode == 6  # NOT_LEADER_OR_FOLLOWER
    assert proxy.core.queued == 0


def test_a_metadata_response_reaches_the_client_with_virtual_addresses(proxy: Proxy) -> None:
    upstream = schema.new(metadata.RESPONSE, METADATA_V, ClusterId="real-a", ControllerId=7, Topics=[],
                          Brokers=[{"NodeId": 7, "Host": "10.1.1.7", "Port": 9092, "Rack": None}])
    proxy.connected()
    proxy.core.handle(ClientDataReceived(request(3, METADATA_V, 5, b"\x01\x00\x00")))
    [sent] = proxy.core.handle(UpstreamDataReceived(response(5, schema.encode(metadata.RESPONSE, METADATA_V,
                                                                              upstream))))
    assert isinstance(sent, SendClient)
    wire = b"".join(sent.parts)
    assert struct.unpack_from(">i", wire)[0] == len(wire) - 4
    seen = schema.decode(metadata.RESPONSE, METADATA_V, wire[9:])
    broker = seen.Brokers[0]
    assert (broker.Host, broker.Port) == (proxy.mapper.host, proxy.mapper.port(broker.NodeId))
    assert seen.ClusterId == proxy.mapper.cluster_id and seen.ControllerId == broker.NodeId


def test_a_frame_too_large_closes_the_connection_after_the_frames_before_it(proxy: Proxy) -> None:
    garbage = struct.pack(">i", (1 << 20) + 1) + b"\x00" * 8
    assert (proxy.connected()
            >> ClientDataReceived(list_offsets(1) + garbage)
            << SendUpstream([list_offsets(1)])
            << FateUnknown(1, 2, LIST_OFFSETS_V)
            << CloseConnection("frame size 1048577 outside 0..1048576", "client", "FrameTooLarge")
            >> ClientDataReceived(list_offsets(2))
            >> ClientClosed())


def test_a_request_header_with_an_unknown_api_key_is_a_client_protocol_error(proxy: Proxy) -> None:
    bad = sized(struct.pack(">hhih", 999, 0, 1, -1))
    [close] = proxy.connected().connection.handle(ClientDataReceived(bad))
    assert isinstance(close, CloseConnection)
    assert (close.bad_frame_from, close.error) == ("client", "UnsupportedVersion")


def test_an_upstream_that_dies_leaves_every_outstanding_request_of_unknown_fate(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1) + api_versions_request(2) + list_offsets(3))
            << SendUpstream
            >> UpstreamClosed()
            << FateUnknown(1, 0, PRODUCE_V)  # never answered: not a SendClient, not the local answer
            << FateUnknown(3, 2, LIST_OFFSETS_V)
            << CloseConnection("upstream closed")
            >> UpstreamDataReceived(response(1, b"too late"))
            >> ClientClosed())
    assert (proxy.core.upstream_outstanding, proxy.core.queued) == (0, 0)


def test_a_response_out_of_order_is_the_upstreams_protocol_error(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(list_offsets(1) + list_offsets(2))
            << SendUpstream
            >> UpstreamDataReceived(response(2, b"wrong one"))
            << FateUnknown(2, 2, LIST_OFFSETS_V)
            << CloseConnection("bad upstream frame: response correlation id 2, expected 1", "upstream",
                               "RemoteProtocolError"))


def test_requests_before_the_upstream_is_up_are_held_even_a_local_one(proxy: Proxy) -> None:
    big = request(2, LIST_OFFSETS_V, 1, b"x" * HOLD_LIMIT)
    assert (Playbook(proxy.core)
            >> ClientDataReceived(big)
            << PauseClientReading()
            >> ClientDataReceived(api_versions_request(2))  # not answered: no broker is known to be there
            >> UpstreamConnected(proxy.mapper)
            << SendUpstream([big])
            << ResumeClientReading())
    assert proxy.core.queued == 2  # the ApiVersions answer waits behind the held ListOffsets
    assert (Playbook(proxy.core)
            >> UpstreamDataReceived(response(1, b"ok"))
            << SendClient([response(1, b"ok") + proxy.api_versions_answer(2)]))


def test_a_client_that_leaves_with_requests_in_flight_leaves_nothing_behind(proxy: Proxy) -> None:
    assert (proxy.connected()
            >> ClientDataReceived(produce_request(1) + list_offsets(2))
            << SendUpstream
            >> ClientClosed()
            << FateUnknown(1, 0, PRODUCE_V)
            << FateUnknown(2, 2, LIST_OFFSETS_V)
            << CloseConnection("client closed"))
    assert proxy.core.closed and proxy.core.queued == 0


def test_every_interceptor_sees_the_connection_it_came_from(proxy: Proxy) -> None:
    seen: list[Any] = []

    class Spy:
        def intercept(self, client: Any, header: Any, frame: memoryview) -> None:
            seen.append(client)

        def observe_answer(self, client: Any, entry: Any) -> None:
            seen.append(client)

        def rewrite_request(self, header: Any, frame: memoryview) -> None:
            return None

        def forget(self, client: Any) -> None:
            return None

    proxy.context.interceptors.insert(0, Spy())
    proxy.connected()
    proxy.core.handle(ClientDataReceived(list_offsets(1)))
    proxy.core.handle(UpstreamDataReceived(response(1, b"ok")))
    assert seen == [proxy.client, proxy.client]


def test_the_core_keeps_nothing_of_a_read_buffer_the_io_side_reuses(proxy: Proxy) -> None:
    read_buffer = bytearray(4096)

    def received(data: bytes) -> ClientDataReceived:
        read_buffer[:len(data)] = data
        return ClientDataReceived(memoryview(read_buffer)[:len(data)])

    first, second = list_offsets(1), list_offsets(2)
    playbook = Playbook(proxy.core)
    assert playbook >> received(first + second[:7])  # held: no upstream yet, and half a frame
    assert playbook >> received(second[7:])
    read_buffer[:] = b"\xff" * len(read_buffer)  # the next read overwrites it
    assert playbook >> UpstreamConnected(proxy.mapper) << SendUpstream([first + second])
