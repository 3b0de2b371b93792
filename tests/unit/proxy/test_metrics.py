"""proxy.metrics: private registries, cached label children, Prometheus text output."""

from __future__ import annotations

import sys
import types

import pytest

from proxy.metrics import Metrics, TrafficTally, api_name


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_counters_increase_per_api_and_direction() -> None:
    metrics = Metrics()
    metrics.request(3).inc()
    metrics.request(3).inc()
    metrics.response(3).inc()
    metrics.bytes_client_in.inc(100)
    metrics.bytes_upstream_out.inc(7)
    name = api_name(3)
    assert sample(metrics, "kfp_requests_total", api=name) == 2
    assert sample(metrics, "kfp_responses_total", api=name) == 1
    assert sample(metrics, "kfp_bytes_total", direction="client_in") == 100
    assert sample(metrics, "kfp_bytes_total", direction="upstream_out") == 7
    assert sample(metrics, "kfp_bytes_total", direction="client_out") == 0


def test_cached_children_are_the_same_object() -> None:
    metrics = Metrics()
    assert metrics.request(0) is metrics.request(0)
    assert metrics.latency(1) is metrics.latency(1)
    assert metrics.rewrite(10) is metrics.rewrite(10)
    assert metrics.replication_lag("A", "B") is metrics.replication_lag("A", "B")
    assert metrics.request(0) is not metrics.request(1)
    assert metrics.request(0) is metrics.requests_total.labels(api_name(0))


def test_registries_are_independent() -> None:
    first, second = Metrics(), Metrics()
    first.frame_error("FrameTooLarge")
    assert sample(first, "kfp_frame_errors_total", reason="FrameTooLarge") == 1
    assert sample(second, "kfp_frame_errors_total", reason="FrameTooLarge") is None


def test_latency_histogram_buckets_span_half_a_millisecond_to_thirty_seconds() -> None:
    metrics = Metrics()
    metrics.latency(1).observe(0.0004)
    metrics.latency(1).observe(20)
    name = api_name(1)
    assert sample(metrics, "kfp_request_latency_seconds_bucket", api=name, le="0.0005") == 1
    assert sample(metrics, "kfp_request_latency_seconds_bucket", api=name, le="30.0") == 2
    assert sample(metrics, "kfp_request_latency_seconds_count", api=name) == 2


def test_set_active_marks_exactly_one_cluster() -> None:
    metrics = Metrics(clusters=["A", "B"])
    assert sample(metrics, "kfp_active_cluster", cluster="B") == 0
    metrics.set_active("A")
    metrics.set_active("B")
    assert sample(metrics, "kfp_active_cluster", cluster="A") == 0
    assert sample(metrics, "kfp_active_cluster", cluster="B") == 1


def test_upstream_connections_and_errors_by_cluster() -> None:
    metrics = Metrics()
    metrics.upstream_connected("A", +1)
    metrics.upstream_connected("A", +1)
    metrics.upstream_connected("A", -1)
    metrics.upstream_error("B", "connect")
    assert sample(metrics, "kfp_upstream_connections", cluster="A") == 1
    assert sample(metrics, "kfp_upstream_errors_total", cluster="B", reason="connect") == 1


def test_switch_metrics() -> None:
    metrics = Metrics()
    metrics.switch_outcome("succeeded").inc()
    metrics.switch_phase("drain").observe(0.2)
    metrics.fenced_request(0).inc()
    metrics.fenced.set(1)
    metrics.held_fetches.inc()
    assert sample(metrics, "kfp_switches_total", outcome="succeeded") == 1
    assert sample(metrics, "kfp_switch_phase_seconds_count", phase="drain") == 1
    assert sample(metrics, "kfp_fenced_requests_total", api=api_name(0)) == 1
    assert sample(metrics, "kfp_fenced") == 1
    assert sample(metrics, "kfp_held_fetches") == 1


def test_render_is_prometheus_text_with_every_metric() -> None:
    metrics = Metrics(clusters=["A"])
    metrics.request(18).inc()
    text = metrics.render().decode()
    for name in ("kfp_requests_total", "kfp_responses_total", "kfp_bytes_total",
                 "kfp_request_latency_seconds", "kfp_client_connections", "kfp_upstream_connections",
                 "kfp_upstream_errors_total",
                 "kfp_rewrites_total", "kfp_frame_errors_total", "kfp_active_cluster", "kfp_switch_epoch",
                 "kfp_fenced", "kfp_fenced_requests_total", "kfp_switches_total", "kfp_switch_phase_seconds",
                 "kfp_replication_lag_records", "kfp_held_fetches"):
        assert f"# TYPE {name} " in text
    assert f'kfp_requests_total{{api="{api_name(18)}"}} 1.0' in text


@pytest.mark.parametrize(("entry", "expected"), [
    (types.SimpleNamespace(name="Produce"), "Produce"),
    ("Produce", "Produce"),
    (("Produce", 3, 12), "Produce"),
    (object(), "api_0"),
])
def test_api_names_come_from_the_protocol_table_when_present(
        entry: object, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("protocol.api_keys")
    fake.API_TABLE = {0: entry}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "protocol.api_keys", fake)
    assert api_name(0) == expected
    assert api_name(999) == "api_999"


def test_the_tally_reaches_the_metrics_when_they_are_read() -> None:
    metrics = Metrics()
    metrics.tally.client_in += 300
    metrics.tally.request(0)
    metrics.tally.response(0, 0.0004)
    name = api_name(0)
    assert sample(metrics, "kfp_bytes_total", direction="client_in") == 300
    assert sample(metrics, "kfp_requests_total", api=name) == 1
    assert sample(metrics, "kfp_responses_total", api=name) == 1
    assert sample(metrics, "kfp_request_latency_seconds_bucket", api=name, le="0.0005") == 1
    assert sample(metrics, "kfp_bytes_total", direction="client_in") == 300  # moved once, not twice


def test_a_full_tally_of_latencies_flushes_itself() -> None:
    metrics = Metrics()
    for _ in range(TrafficTally.FLUSH_AT):
        metrics.tally.response(1, 0.002)
    assert metrics.tally.latencies == [] and metrics.tally.responses == {}
    [family] = metrics.request_latency_seconds.collect()  # the metric itself: no flush on the way
    counts = [s.value for s in family.samples if s.name.endswith("_count")]
    assert counts == [TrafficTally.FLUSH_AT]
