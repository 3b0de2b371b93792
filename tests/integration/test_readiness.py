"""The readiness scorecard against real clusters: a fresh pair with MM2 A->B scores as the rules say,
a stopped (frozen) MirrorMaker drops offsets to 0, and a client using an API version B lacks drops
compatibility to 0 and is named. One module-scoped pair and mirror; the proxy is shared too."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness import workload
from harness.cluster import ClusterSpec, start_clusters, stop_clusters
from harness.mirror import start_mirror, wait_for_records
from harness.proxy_thread import ProxyThread, proxy_config
from protocol import schema
from protocol.headers import encode_request_header
from protocol.messages import api_versions
from tests.integration.clients import confluent_produce
from tests.integration.test_switch import paused

PRICE = 0.02


@pytest.fixture(scope="module")
def pair(kafka_jars: Any) -> Iterator[tuple[Any, Any, Any]]:
    a, b = start_clusters([ClusterSpec("A", (1,)), ClusterSpec("B", (1,))])
    mirror = None
    try:
        mirror = start_mirror(a, b, source_alias="A", target_alias="B")
        yield a, b, mirror
    finally:
        if mirror is not None:
            mirror.stop()
        stop_clusters([a, b])


@pytest.fixture
def setup(pair: tuple[Any, Any, Any]) -> Iterator[tuple[Any, Any, Any, ProxyThread]]:
    """A proxy of each test's own: the client inventory and the drills it saw must not leak between
    tests that run in a random order."""
    a, b, mirror = pair
    proxy = ProxyThread(proxy_config({"A": a.bootstrap, "B": b.bootstrap}, "A",
                                     mirrors=[{"source": "A", "target": "B"}],
                                     readiness={"transfer_price_per_gb": PRICE})).start()
    proxy.server.control.readiness_reader.stale_after_s = 8.0  # the test cannot wait the default 30 s
    try:
        yield a, b, mirror, proxy
    finally:
        proxy.stop()


def card(proxy: ProxyThread, target: str = "B") -> dict[str, Any]:
    return proxy.call(lambda: proxy.server.control.readiness(target))


def scores(answer: dict[str, Any]) -> dict[str, int]:
    return {gate["gate"]: gate["score"] for gate in answer["gates"]}


def gate(answer: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in answer["gates"] if g["gate"] == name)


def produce_through(proxy: ProxyThread, topic: str, count: int) -> None:
    assert confluent_produce(proxy.bootstrap, topic, [b"r%d" % i for i in range(count)],
                             **{"enable.idempotence": True}) == count


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.5)


def test_a_fresh_pair_with_mm2_scores_as_the_rules_say_and_a_dry_run_raises_offsets_and_routing(setup: Any) -> None:
    _a, b, _mirror, proxy = setup
    topic = f"ready-{uuid.uuid4().hex[:6]}"
    produce_through(proxy, topic, 50)
    wait_for_records(b.bootstrap, topic, 50, timeout_s=240)  # MM2 may be resuming from another test's freeze
    wait_for(lambda: gate(card(proxy), "offsets")["evidence"]["lag_records"] == 0, 120, "MM2 progress read")
    fresh = card(proxy)
    print(fresh)
    assert scores(fresh) == {"compatibility": 1, "offsets": 1, "routing": 1, "cost": 1, "governance": 1,
                             "rollback": 0, "observability": 2}
    assert not fresh["production_candidate"]  # no reverse mirror B->A
    assert "confluent-kafka-python" in {c["library"] for c in fresh["clients"]}
    assert gate(fresh, "compatibility")["evidence"]["idempotent_producers"]
    assert gate(fresh, "cost")["evidence"]["monthly_transfer_cost"] is not None
    run = workload.run_switch(proxy, "B", dry_run=True, timeout_s=30)
    assert run.outcome == "succeeded", run.record.get("reason")
    drilled = card(proxy)
    assert (gate(drilled, "offsets")["score"], gate(drilled, "routing")["score"]) == (2, 2)
    assert gate(drilled, "routing")["evidence"]["last_passing_drill"]["switch_id"] == run.switch_id


def test_a_frozen_mirrormaker_drops_offsets_to_zero_while_producers_carry_on(setup: Any) -> None:
    _a, _b, mirror, proxy = setup
    topic = f"ready-stop-{uuid.uuid4().hex[:6]}"
    produce_through(proxy, topic, 10)
    with paused(mirror):
        deadline = time.monotonic() + 120  # 30 s without progress, read every 5 s, on a loaded machine

        def stuck_with_lag() -> bool:
            offsets = gate(card(proxy), "offsets")
            return offsets["score"] == 0 and bool(offsets["evidence"]["emergency_replay_records"])

        while not stuck_with_lag() and time.monotonic() < deadline:
            produce_through(proxy, topic, 20)
            time.sleep(1)
        stopped = card(proxy)
    print(stopped)
    offsets = gate(stopped, "offsets")
    assert offsets["score"] == 0 and "not moving" in offsets["rule"]
    assert offsets["evidence"]["emergency_replay_records"] > 0
    assert gate(stopped, "rollback")["score"] == 0
    wait_for(lambda: gate(card(proxy), "offsets")["score"] > 0, 180, "offsets back once MM2 runs again")


def raw_request(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> None:
    payload = encode_request_header(api_key, version, correlation_id, "readiness-probe") + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)


def test_a_client_using_an_api_version_b_lacks_drops_compatibility_to_zero_and_is_named(setup: Any) -> None:
    """Honest version: a real client (raw socket) asks for ListGroups one version above B's highest;
    the proxy forwards it like any request and the inventory compares it with B's real ApiVersions."""
    _a, _b, _mirror, proxy = setup
    b_ranges = proxy.server.context.monitors["B"].view.api_ranges
    too_new = b_ranges[16][1] + 1
    host, port = proxy.bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        hello = schema.encode(api_versions.REQUEST, 3, schema.new(
            api_versions.REQUEST, 3, ClientSoftwareName="readiness-probe", ClientSoftwareVersion="0.1"))
        raw_request(sock, 18, 3, 1, hello)
        sock.recv(65536)
        raw_request(sock, 16, too_new, 2, b"\x00")
        wait_for(lambda: any(c["library"] == "readiness-probe" and "16" in c["apis"]
                             for c in card(proxy)["clients"]), 10, "the probe's ListGroups counted")
    compatibility = gate(card(proxy), "compatibility")
    print(compatibility)
    assert compatibility["score"] == 0
    assert f"readiness-probe 0.1: api 16 v{too_new}" in " ".join(compatibility["evidence"]["missing"])
