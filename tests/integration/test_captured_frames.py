"""Real frames from a Kafka 4.4 broker and four client libraries decode and re-encode byte-exact.

The proxy's frame tap records every request body clients send and every response body the broker
returns while the client matrix runs; each one our codecs know is decoded and encoded again, and
must come back byte for byte. Nothing is stored: the frames are captured live on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from harness import tools
from harness.proxy_thread import ProxyThread, proxy_config
from protocol import schema
from protocol.messages import MESSAGES
from tests.integration import clients

pytestmark = pytest.mark.integration

Captured = list[tuple[bool, int, int, bytes]]


@pytest.fixture(scope="module")
def captured(cluster_a: Any, cluster_b: Any) -> Iterator[Captured]:
    frames: Captured = []
    proxy = ProxyThread(proxy_config({"A": cluster_a.bootstrap, "B": cluster_b.bootstrap}, "A")).start()
    proxy.call(lambda: setattr(proxy.server.context, "frame_tap",
                               lambda *frame: frames.append(frame)))
    try:
        run_matrix(proxy.bootstrap)
    finally:
        proxy.stop()
    yield frames


def run_matrix(bootstrap: str) -> None:
    topic = f"capture-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    sent = clients.values(topic, 50)
    clients.confluent_produce(bootstrap, topic, sent)
    clients.confluent_consume(bootstrap, topic, f"g1-{topic}", 50)
    clients.kafka_python_produce(bootstrap, topic, sent[:5])
    clients.kafka_python_consume(bootstrap, topic, f"g2-{topic}", 55)
    clients.aiokafka_produce(bootstrap, topic, sent[:5], transactional_id=f"tx-{topic}")
    clients.aiokafka_consume(bootstrap, topic, f"g3-{topic}", 60)
    tools.producer_performance(bootstrap, topic, 1000, record_size=100)
    tools.consumer_performance(bootstrap, topic, 1000, group=f"g4-{topic}")


def test_the_matrix_exercised_every_hot_api(captured: Captured) -> None:
    seen = {key for is_request, key, _version, _body in captured if not is_request}
    assert {0, 1, 3, 8, 9, 10, 11, 14, 22, 24, 26} <= seen


def test_every_captured_frame_round_trips_byte_exact(captured: Captured) -> None:
    checked: dict[tuple[bool, int, int], int] = {}
    for is_request, key, version, body in captured:
        module = MESSAGES.get(key)
        if module is None:
            continue
        spec = module.REQUEST if is_request else module.RESPONSE
        low, high = spec.version_range
        if not low <= version <= high:
            continue
        assert schema.encode(spec, version, schema.decode(spec, version, body)) == body, (
            f"{spec.name} v{version} did not round-trip")
        checked[(is_request, key, version)] = checked.get((is_request, key, version), 0) + 1
    assert len(checked) >= 20, f"too few distinct (direction, api, version) combinations: {sorted(checked)}"
