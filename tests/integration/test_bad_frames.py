"""Garbage on one connection costs that connection only; everyone else keeps producing."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration import clients

pytestmark = pytest.mark.integration


def send_and_wait_for_close(address: tuple[str, int], payload: bytes, timeout_s: float = 10) -> bool:
    """Send bytes; True if the proxy closed the connection (EOF or reset) within the timeout."""
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(payload)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if sock.recv(4096) == b"":
                    return True
            except ConnectionResetError:
                return True
            except TimeoutError:
                return False
    return False


def frame_errors(proxy: Any) -> float:
    metric = proxy.server.metrics.frame_errors_total
    return sum(sample.value for family in metric.collect() for sample in family.samples
               if sample.name.endswith("_total"))


def test_garbage_and_oversized_frames_close_only_their_connection(proxy_ab: Any) -> None:
    topic = f"steady-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": proxy_ab.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    sent = clients.values(topic, 2000)
    acked: list[int] = []
    producer = threading.Thread(target=lambda: acked.append(clients.confluent_produce(
        proxy_ab.bootstrap, topic, sent, **{"linger.ms": 5})))
    before = frame_errors(proxy_ab)
    producer.start()
    host, port = proxy_ab.bootstrap.split(":")
    address = (host, int(port))
    oversized = struct.pack(">i", 1 << 30) + b"\x00" * 16
    negative = struct.pack(">i", -5)
    # a frame whose header claims api key 3 v12 but whose header is cut short
    truncated_header = struct.pack(">i", 3) + b"\x00\x03\x00"
    random_frame = struct.pack(">i", 64) + os.urandom(64)
    for payload in (oversized, negative, truncated_header, random_frame):
        assert send_and_wait_for_close(address, payload), f"proxy kept a connection open after {payload[:12]!r}"
    producer.join(120)
    assert acked == [2000]
    assert sorted(clients.confluent_consume(proxy_ab.bootstrap, topic, f"g-{topic}", 2000)) == sorted(sent)
    assert frame_errors(proxy_ab) >= before + 3
