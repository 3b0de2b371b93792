"""A proxy process restarted after a switch serves the cluster the switch chose, from its state file.

Real brokers and MirrorMaker 2 (the session's A, B and mirror A->B); the proxy is its own OS process,
stopped with SIGTERM and started again on the same config, whose `active` still says A.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from harness.mirror import Mirror
from harness.proxy_process import ProxyProcess, ProxyStartError, raw_config
from proxy.cli import AdminClient as ProxyAdmin
from proxy.cli import is_final

pytestmark = pytest.mark.integration

TOKEN = "state-restart-token"


def _proxy(a: Any, b: Any, tmp_path: Path) -> ProxyProcess:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    raw = raw_config({"A": a.bootstrap, "B": b.bootstrap}, "A", mirrors=[{"source": "A", "target": "B"}],
                     admin={"token_file": str(token)})
    return ProxyProcess(raw)


def _produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "log_level": 3})
    for value in values:
        producer.produce(topic, value.encode())
    assert producer.flush(60) == 0, "records left unacknowledged"


def _values(bootstrap: str, topic: str) -> list[str]:
    """Every value of partition 0, read directly from one cluster."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "log_level": 3})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[str] = []
        deadline = time.monotonic() + 60
        while len(out) < high - low and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                out.append(message.value().decode())
        return out
    finally:
        consumer.close()


def _switch(admin: ProxyAdmin, target: str) -> dict[str, Any]:
    status, answer = admin.call("POST", "/v1/switch", {"target": target, "timeout_s": 60})
    assert status == 202, answer
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, record = admin.call("GET", f"/v1/switch/{answer['switch_id']}")
        if status == 200 and is_final(record):
            return dict(record)
        time.sleep(0.2)
    raise TimeoutError(f"switch {answer['switch_id']} not final: {record}")


def test_a_restarted_proxy_serves_the_cluster_its_last_switch_chose(
        cluster_a: Any, cluster_b: Any, mirror_ab: Mirror, new_topic: Any, tmp_path: Path) -> None:
    topic = new_topic(cluster_a)
    proxy = _proxy(cluster_a, cluster_b, tmp_path).start()
    admin = ProxyAdmin(proxy.admin_url, TOKEN)
    try:
        _produce(proxy.bootstrap, topic, [f"before-{i}" for i in range(50)])
        record = _switch(admin, "B")
        assert record["outcome"] == "succeeded", record["reason"]
        proxy.restart()
        status, state = admin.call("GET", "/v1/status")
        _produce(proxy.bootstrap, topic, [f"after-restart-{i}" for i in range(20)])
        status_record, again = admin.call("GET", f"/v1/switch/{record['switch_id']}")
    finally:
        proxy.stop()
    assert status == 200 and (state["active"], state["switch_epoch"]) == ("B", 1)
    assert state["state"]["resumed_from"] == "state"
    assert "A is only the first-boot value" in state["state"]["note"]
    assert status_record == 200 and again == record  # the record outlived the process, unchanged
    on_b, on_a = _values(cluster_b.bootstrap, topic), _values(cluster_a.bootstrap, topic)
    assert [v for v in on_b if v.startswith("after-restart-")] == [f"after-restart-{i}" for i in range(20)]
    assert not [v for v in on_a if v.startswith("after-restart-")]  # nothing went to A after the restart


def test_a_corrupt_state_file_stops_the_proxy_with_a_clear_error(
        cluster_a: Any, cluster_b: Any, tmp_path: Path) -> None:
    proxy = _proxy(cluster_a, cluster_b, tmp_path)
    assert proxy.state_path is not None
    proxy.state_path.write_text(json.dumps({"format": "kafka-failover-proxy/switch-state", "version": 1})[:-3])
    with pytest.raises(ProxyStartError) as caught:
        proxy.start(timeout_s=60)
    assert "switch state error, not starting" in str(caught.value)
    assert "state file is corrupt" in str(caught.value) and str(proxy.state_path) in str(caught.value)
