"""Clients see one topic id per name whichever cluster is active (issue 10, item 3).

Through the connection core: a Metadata response from A teaches the proxy A's id and the client
gets the virtual one; the client's Produce/Fetch with that virtual id reach A with A's id and B
with B's; responses come back with the virtual id; an id nobody knows reaches the broker as the
client sent it (the broker answers UNKNOWN_TOPIC_ID) and asks the monitor to poll. The decoded APIs
are checked at every version that carries ids, both directions.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import schema
from protocol.messages import (
    consumer_group_describe,
    consumer_group_heartbeat,
    describe_topic_partitions,
    fetch,
    metadata,
    offset_commit,
    offset_fetch,
    produce,
    share_acknowledge,
    share_fetch,
    share_group_describe,
    share_group_heartbeat,
)
from protocol.schema import MessageSpec
from proxy.dataplane.api_versions import _caps, intersect
from proxy.dataplane.connection import (
    ClientDataReceived,
    Connection,
    SendClient,
    SendUpstream,
    UpstreamConnected,
    UpstreamDataReceived,
)
from proxy.dataplane.rewrite import REQUEST_REWRITERS, RESPONSE_REWRITERS, request_needs_rewrite, response_needs_rewrite
from proxy.dataplane.topic_ids import ClusterTopicIds, virtual_topic_id
from proxy.dataplane.virtual_cluster import VirtualCluster
from tests.unit.dataplane.test_connection import Proxy, request, response
from tests.unit.protocol.messages.strategies import message

A_ORDERS, B_ORDERS = uuid.uuid4().bytes, uuid.uuid4().bytes
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the map -------------------------------------------------------------------------------------------


def test_the_virtual_id_depends_only_on_the_virtual_cluster_and_the_name() -> None:
    first, second = ClusterTopicIds("vc"), ClusterTopicIds("vc")  # two proxies of a fleet, or A and B
    assert first.learn("orders", A_ORDERS) == second.learn("orders", B_ORDERS) == virtual_topic_id("vc", "orders")
    assert virtual_topic_id("vc", "orders") != virtual_topic_id("vc", "payments")
    assert virtual_topic_id("vc", "orders") != virtual_topic_id("other", "orders")
    assert first.to_real[virtual_topic_id("vc", "orders")] == A_ORDERS
    assert second.to_virtual[B_ORDERS] == virtual_topic_id("vc", "orders")


def test_a_recreated_topic_keeps_its_virtual_id_and_requests_go_to_the_new_real_one() -> None:
    ids = ClusterTopicIds("vc")
    virtual = ids.learn("orders", A_ORDERS)
    recreated = uuid.uuid4().bytes
    assert ids.learn("orders", recreated) == virtual
    assert ids.to_real[virtual] == recreated


def test_unknown_and_zero_ids_map_to_themselves_and_only_unknown_ones_are_reported() -> None:
    ids = ClusterTopicIds("vc")
    missed: list[bytes] = []
    ids.to_real.on_miss = missed.append
    stranger = uuid.uuid4().bytes
    assert ids.to_real[stranger] == stranger and ids.to_real[bytes(16)] == bytes(16)
    assert missed == [stranger]


# -- through the connection core --------------------------------------------------------------------


def _metadata_response(correlation_id: int, real: bytes) -> bytes:
    body = schema.new(metadata.RESPONSE, 12, ClusterId="real", ControllerId=1,
                      Brokers=[{"NodeId": 1, "Host": "10.0.0.1", "Port": 9092, "Rack": None}],
                      Topics=[{"ErrorCode": 0, "Name": "orders", "TopicId": uuid.UUID(bytes=real),
                               "IsInternal": False, "Partitions": [], "TopicAuthorizedOperations": 0}])
    return response(correlation_id, schema.encode(metadata.RESPONSE, 12, body))


def _produce(correlation_id: int, topic: bytes) -> bytes:
    body = schema.new(produce.REQUEST, 13, Acks=-1, TimeoutMs=1000, TopicData=[
        {"TopicId": uuid.UUID(bytes=topic), "PartitionData": [{"Index": 0, "Records": b"records"}]}])
    return request(0, 13, correlation_id, schema.encode(produce.REQUEST, 13, body))


def _produce_response(correlation_id: int, topic: bytes) -> bytes:
    body = schema.new(produce.RESPONSE, 13, Responses=[{"TopicId": uuid.UUID(bytes=topic), "PartitionResponses": [
        {"Index": 0, "ErrorCode": 0, "BaseOffset": 5, "LogAppendTimeMs": -1, "LogStartOffset": 0}]}])
    return response(correlation_id, schema.encode(produce.RESPONSE, 13, body))


def _sent(commands: list[Any], kind: type[SendUpstream] | type[SendClient]) -> bytes:
    [command] = [c for c in commands if isinstance(c, kind)]
    return b"".join(command.parts)


def test_a_client_sees_the_virtual_id_and_its_produce_reaches_the_broker_with_the_real_one() -> None:
    proxy = Proxy()
    proxy.connected()
    proxy.core.handle(ClientDataReceived(request(3, 12, 1, b"\x01\x00\x00")))
    seen = _sent(proxy.core.handle(UpstreamDataReceived(_metadata_response(1, A_ORDERS))), SendClient)
    virtual = schema.decode(metadata.RESPONSE, 12, seen[9:]).Topics[0].TopicId.bytes
    assert virtual == virtual_topic_id(proxy.context.virtual.cluster_id, "orders")
    upstream = _sent(proxy.core.handle(ClientDataReceived(_produce(2, virtual))), SendUpstream)
    assert upstream == _produce(2, A_ORDERS)
    answer = _sent(proxy.core.handle(UpstreamDataReceived(_produce_response(2, A_ORDERS))), SendClient)
    assert answer == _produce_response(2, virtual)


def test_after_a_switch_the_same_virtual_id_reaches_b_with_bs_id() -> None:
    proxy = Proxy()
    virtual = proxy.mapper.topics.learn("orders", A_ORDERS)  # what the client learnt while A was active
    proxy.context.virtual.topics_of("B").learn("orders", B_ORDERS)  # what B's monitor polled
    on_b = Connection(proxy.context, proxy.client, max_frame_bytes=1 << 20, hold_limit=1000)
    on_b.handle(UpstreamConnected(proxy.context.virtual.mapper("B")))
    fetch_body = schema.new(fetch.REQUEST, 16, MaxWaitMs=500, MinBytes=1, Topics=[
        {"TopicId": uuid.UUID(bytes=virtual), "Partitions": [{"Partition": 0, "FetchOffset": 3}]}])
    frame = request(1, 16, 7, schema.encode(fetch.REQUEST, 16, fetch_body))
    upstream = _sent(on_b.handle(ClientDataReceived(frame)), SendUpstream)
    assert schema.decode(fetch.REQUEST, 16, upstream[4 + 14:]).Topics[0].TopicId.bytes == B_ORDERS


def test_an_unknown_virtual_id_reaches_the_broker_unchanged_and_asks_for_a_poll() -> None:
    proxy = Proxy()
    poked: list[bool] = []
    proxy.context.monitors["A"].poke = lambda: poked.append(True)  # type: ignore[method-assign]
    proxy.connected()
    stranger = uuid.uuid4().bytes
    assert _sent(proxy.core.handle(ClientDataReceived(_produce(1, stranger))), SendUpstream) == _produce(1, stranger)
    assert poked == [True]


def test_apis_with_topic_ids_the_proxy_does_not_map_are_capped_below_them_or_hidden() -> None:
    broker = {19: (2, 7), 20: (1, 6), 28: (0, 6), 90: (0, 1), 91: (0, 0), 92: (0, 0), 8: (2, 10), 68: (0, 1)}
    advertised = intersect([broker, broker], _caps())
    assert (advertised[19], advertised[20], advertised[28]) == ((2, 6), (1, 5), (0, 5))
    assert not {90, 91, 92} & set(advertised)
    assert (advertised[8], advertised[68]) == ((2, 10), (0, 1))  # mapped: served in full


# -- the decoded APIs, every version with ids ------------------------------------------------------------

# (api key, spec, versions with topic ids)
REQUESTS = [(8, offset_commit.REQUEST, [10]), (9, offset_fetch.REQUEST, [10]),
            (68, consumer_group_heartbeat.REQUEST, [0, 1]), (78, share_fetch.REQUEST, [1, 2]),
            (79, share_acknowledge.REQUEST, [1, 2])]
RESPONSES = [(8, offset_commit.RESPONSE, [10]), (9, offset_fetch.RESPONSE, [10]),
             (68, consumer_group_heartbeat.RESPONSE, [0, 1]), (69, consumer_group_describe.RESPONSE, [0, 1]),
             (75, describe_topic_partitions.RESPONSE, [0]), (76, share_group_heartbeat.RESPONSE, [1]),
             (77, share_group_describe.RESPONSE, [1]),
             (78, share_fetch.RESPONSE, [1, 2]), (79, share_acknowledge.RESPONSE, [1, 2])]


def _ids(node: Any) -> list[bytes]:
    if isinstance(node, list):
        return [i for item in node for i in _ids(item)]
    if isinstance(node, dict):
        found = [node["TopicId"].bytes] if isinstance(node.get("TopicId"), uuid.UUID) else []
        return found + [i for k, v in node.items() if k != "TopicId" for i in _ids(v)]
    return []


def _names(node: Any) -> list[str | None]:
    """Per TopicId (in `_ids` order), the name beside it."""
    if isinstance(node, list):
        return [n for item in node for n in _names(item)]
    if isinstance(node, dict):
        here = [node.get("Name", node.get("TopicName"))] if isinstance(node.get("TopicId"), uuid.UUID) else []
        return here + [n for k, v in node.items() if k != "TopicId" for n in _names(v)]
    return []


@pytest.mark.parametrize(("key", "spec", "version"), [(k, s, v) for k, s, vs in REQUESTS for v in vs],
                         ids=lambda x: getattr(x, "name", str(x)))
@EXAMPLES
@given(data=st.data())
def test_a_decoded_request_reaches_the_broker_with_real_ids(key: int, spec: MessageSpec, version: int,
                                                            data: st.DataObject) -> None:
    mapper = VirtualCluster("vc", "proxy", 9000, 4096).mapper("A")
    msg = data.draw(message(spec, version))
    known = {virtual: uuid.uuid4().bytes for virtual in _ids(msg) if data.draw(st.booleans())}
    for virtual, real in known.items():
        mapper.topics.to_real[virtual] = real
    before = _ids(msg)
    assert request_needs_rewrite(key, version)
    changed = REQUEST_REWRITERS[key](msg, version, mapper)
    assert _ids(msg) == [known.get(i, i) for i in before]
    assert changed == any(i in known for i in before)


@pytest.mark.parametrize(("key", "spec", "version"), [(k, s, v) for k, s, vs in RESPONSES for v in vs],
                         ids=lambda x: getattr(x, "name", str(x)))
@EXAMPLES
@given(data=st.data())
def test_a_decoded_response_reaches_the_client_with_virtual_ids(key: int, spec: MessageSpec, version: int,
                                                                 data: st.DataObject) -> None:
    mapper = VirtualCluster("vc", "proxy", 9000, 4096).mapper("A")
    msg = data.draw(message(spec, version))
    reals, names = _ids(msg), _names(msg)
    assume_known = {real: uuid.uuid4().bytes for real in reals if real != bytes(16) and data.draw(st.booleans())}
    for real, virtual in assume_known.items():
        mapper.topics.to_virtual[real] = virtual
    assert response_needs_rewrite(key, version)
    RESPONSE_REWRITERS[key](msg, version, mapper)
    expected = [real if real == bytes(16) else virtual_topic_id("vc", name) if name is not None
                else assume_known.get(real, real) for real, name in zip(reals, names, strict=True)]
    assert _ids(msg) == expected
