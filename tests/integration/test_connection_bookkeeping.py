"""10,000 connections open and close with requests in flight: the proxy's bookkeeping ends where it began.

Real sockets on uvloop and the real relay, but no Kafka: the broker is a server that reads requests
and never answers, so every Produce is still in flight when its client leaves. Each one must be
counted once as a write of unknown fate, and nothing per connection may outlive its connection.
"""

from __future__ import annotations

import asyncio
import gc
import struct
from typing import Any

import uvloop

from harness.proxy_thread import proxy_config
from protocol import schema
from protocol.headers import encode_request_header
from protocol.messages import api_versions, produce
from proxy.dataplane.connection import Connection
from proxy.dataplane.context import ProxyContext
from proxy.dataplane.relay import ClientConnection, UpstreamConnection
from proxy.metrics import Metrics
from proxy.switch.interceptor import SwitchInterceptor
from proxy.switch.machine.fencing import ProduceFence, TransactionFence

CONNECTIONS, AT_ONCE = 10_000, 200


def sized(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def requests(correlation_id: int) -> bytes:
    """ApiVersions (answered by the proxy once the upstream is up), then a Produce the broker never answers."""
    versions = schema.encode(api_versions.REQUEST, 3, schema.new(
        api_versions.REQUEST, 3, ClientSoftwareName="leak-test", ClientSoftwareVersion="1"))
    write = schema.encode(produce.REQUEST, 9, schema.new(produce.REQUEST, 9, Acks=-1, TimeoutMs=30000, TopicData=[
        {"Name": "orders", "PartitionData": [{"Index": 0, "Records": None}]}]))
    return (sized(encode_request_header(18, 3, correlation_id, "leak-test") + versions)
            + sized(encode_request_header(0, 9, correlation_id + 1, "leak-test") + write))


async def silent_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        pass
    writer.close()


async def one_client(port: int, correlation_id: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(requests(correlation_id))
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    await reader.readexactly(size)  # ApiVersions answered: the Produce went upstream in the same read
    writer.close()
    await writer.wait_closed()


def bookkeeping(context: ProxyContext, switch: SwitchInterceptor) -> dict[str, Any]:
    gc.collect()
    live = sum(isinstance(o, (ClientConnection, UpstreamConnection, Connection)) for o in gc.get_objects())
    return {"clients": len(context.clients), "budget_entries": len(context.budget),
            "budget_bytes": context.budget.total, "tasks": len(context._tasks), **switch.connection_entries(),
            "live_connection_objects": live}


async def scenario() -> None:
    broker = await asyncio.start_server(silent_broker, "127.0.0.1", 0)
    broker_port = broker.sockets[0].getsockname()[1]
    context = ProxyContext(proxy_config({"A": f"127.0.0.1:{broker_port}"}, "A"), Metrics(clusters=["A"]))
    transactions = TransactionFence()
    switch = SwitchInterceptor(context, ProduceFence(transactions), transactions)
    context.interceptors.append(switch)
    loop = asyncio.get_running_loop()
    proxy = await loop.create_server(lambda: ClientConnection(context, None), "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    before = bookkeeping(context, switch)
    for start in range(0, CONNECTIONS, AT_ONCE):
        await asyncio.gather(*(one_client(port, 2 * i) for i in range(start, start + AT_ONCE)))
    for _ in range(500):
        if not context.clients and not context._tasks:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # upstream connection_lost callbacks
    assert bookkeeping(context, switch) == before
    assert context.writes_of_unknown_fate == CONNECTIONS  # each in-flight Produce, once; none as answered
    proxy.close()
    broker.close()


def test_ten_thousand_connections_with_requests_in_flight_leave_no_bookkeeping_behind() -> None:
    uvloop.run(scenario())
