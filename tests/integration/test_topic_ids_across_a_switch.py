"""A client that caches topic ids keeps producing and consuming across a planned switch (issue 10, item 3).

Java 4.4's producer names topics by id in Produce v13 and its consumer in Fetch v13+, and caches
them. The proxy shows every client one virtual id per topic name, so the id the client learnt on A
is the one it keeps sending to B. Judged by: every topic's id through the proxy is the same before
and after the switch, and the test topic's is its virtual id, neither A's nor B's; no broker
answered a Produce or Fetch with UNKNOWN_TOPIC_ID (seen on the upstream side, before the proxy
rewrites anything); 0 lost, 0 duplicated, no reset, no replay.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from harness.mirror import Mirror
from harness.proxy_thread import ProxyThread
from protocol import schema
from protocol.messages import fetch, metadata, produce
from proxy.dataplane.topic_ids import virtual_topic_id
from proxy.upstream.kafka_client import KafkaConnection
from tests.integration.test_switch import new_topic, proxy_for, switch_under_load

pytestmark = pytest.mark.integration

UNKNOWN_TOPIC_ID = 100
DATA_ANSWERS = {0: produce.RESPONSE, 1: fetch.RESPONSE}


def topic_ids(bootstrap: str) -> dict[str, bytes]:
    """name -> topic id, as a client of `bootstrap` (its first address) sees it (Metadata v12, every topic)."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)

    async def read() -> dict[str, bytes]:
        conn = await KafkaConnection.open(host, int(port), client_id="topic-id-check")
        try:
            answer = await conn.request(metadata, 12, {"Topics": None, "AllowAutoTopicCreation": False})
        finally:
            await conn.close()
        return {t.Name: t.TopicId.bytes for t in answer.Topics}

    return asyncio.run(read())


@contextmanager
def data_errors(proxy: ProxyThread) -> Iterator[Counter[int | tuple[int, int]]]:
    """Every partition error code of Produce and Fetch answers as the brokers sent them, and
    (api key, version) of every such answer."""
    seen: Counter[int | tuple[int, int]] = Counter()

    def tap(is_request: bool, key: int, version: int, body: bytes) -> None:
        if not is_request and key in DATA_ANSWERS:
            seen[key, version] += 1
            answer = schema.decode(DATA_ANSWERS[key], version, memoryview(body))
            for topic in answer.Responses:
                for partition in topic.get("PartitionResponses") or topic.get("Partitions") or []:
                    seen[partition.ErrorCode] += 1

    proxy.call(lambda: setattr(proxy.server.context, "frame_tap", tap))
    try:
        yield seen
    finally:
        proxy.call(lambda: setattr(proxy.server.context, "frame_tap", None))


def test_java_clients_keep_their_topic_ids_across_a_planned_switch(cluster_a: Any, cluster_b: Any,
                                                                   mirror_ab: Mirror) -> None:
    with proxy_for(cluster_a, cluster_b) as proxy, data_errors(proxy) as errors:
        witness = new_topic(proxy.bootstrap, "tid-")  # the mirror gate makes sure B has it too
        before = topic_ids(proxy.bootstrap)
        drill = switch_under_load(proxy, cluster_b, "java", "java")
        after = topic_ids(proxy.bootstrap)
    topic = drill.verdict.topic
    on_a, on_b = topic_ids(cluster_a.bootstrap)[topic], topic_ids(cluster_b.bootstrap)[topic]
    virtual = virtual_topic_id(proxy.server.context.virtual.cluster_id, topic)
    produced, consumed = drill.verdict.producers[0], drill.verdict.consumers[0]
    assert drill.switch.outcome == "succeeded", drill.switch.record["reason"]
    assert on_a != on_b  # MM2 created B's copy: the real ids differ
    assert after[topic] == virtual and virtual not in (on_a, on_b)  # what the clients learnt on A too
    assert after[witness] == before[witness] == virtual_topic_id(proxy.server.context.virtual.cluster_id, witness)
    assert errors[UNKNOWN_TOPIC_ID] == 0, dict(errors)
    assert errors[0] > 0  # the tap saw the traffic
    answers = [e for e in errors if isinstance(e, tuple)]  # both name topics by id:
    assert max(v for k, v in answers if k == 0) == 13 and max(v for k, v in answers if k == 1) >= 13, answers
    assert produced.fatal is None and consumed.fatal is None
    assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample
    assert (consumed.offset_resets, consumed.replayed, consumed.unconsumed) == (0, 0, 0), consumed.resets
