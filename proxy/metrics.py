"""Prometheus metrics of one proxy process, on a registry of its own.

The hot path touches a metric per request and per chunk, so it counts into `TrafficTally` (plain
numbers, moved into the metrics before each collection), and every labelled child is resolved once
and cached (`metrics.request(api_key)` is a dict lookup after the first call); prometheus-client's
own `labels()` takes a lock and builds a tuple each time. A private `CollectorRegistry` lets tests
and several in-process proxies keep separate numbers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PHASE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def api_name(api_key: int) -> str:
    """The Kafka name of an API key (`Produce`), or `api_<key>` when the table does not know it.

    protocol.api_keys is imported lazily: metrics must work before, and without, that table.
    """
    try:
        table: Any = importlib.import_module("protocol.api_keys").API_TABLE
        entry = table[api_key]
    except (ImportError, AttributeError, LookupError, TypeError):
        return f"api_{api_key}"
    name = entry if isinstance(entry, str) else getattr(entry, "name", None)
    if name is None and isinstance(entry, tuple) and entry and isinstance(entry[0], str):
        name = entry[0]
    return name if isinstance(name, str) and name else f"api_{api_key}"


def _by_api(api_key: int) -> tuple[str, ...]:
    return (api_name(api_key),)


def _one(value: str) -> tuple[str, ...]:
    return (value,)


def _many(values: tuple[str, ...]) -> tuple[str, ...]:
    return values


class _Children:
    """Label children of one metric, created on first use and then served from a dict.

    `label_values` turns a cache key into label values; it runs only on a miss, so the hot path
    is one dict lookup.
    """

    __slots__ = ("_cache", "_label_values", "_labels")

    def __init__(self, labels: Callable[..., Any], label_values: Callable[[Any], tuple[str, ...]]) -> None:
        self._labels = labels
        self._label_values = label_values
        self._cache: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = self._labels(*self._label_values(key))
        return child


class TrafficTally:
    """Per-frame counts as plain numbers, moved into the Prometheus metrics before they are read.

    Even a cached child's `inc()` takes a lock and checks its labels, and the data plane counted
    six to eight things per request and response, more than the rest of its Python work. It adds
    to these fields instead; `Metrics.flush` moves them over before every collection (so a scrape
    or a test sees every frame handled so far), and a full `latencies` list flushes itself. Only
    the event loop's thread touches it: the admin API serves /metrics from that same loop.
    """

    __slots__ = ("_flush", "client_in", "client_out", "latencies", "requests", "responses", "upstream_in",
                 "upstream_out")

    FLUSH_AT = 4096  # latency samples kept before they go to the histogram anyway

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self.client_in = self.client_out = self.upstream_in = self.upstream_out = 0
        self.requests: dict[int, int] = {}
        self.responses: dict[int, int] = {}
        self.latencies: list[tuple[int, float]] = []

    def request(self, api_key: int) -> None:
        requests = self.requests
        requests[api_key] = requests.get(api_key, 0) + 1

    def response(self, api_key: int, latency_s: float) -> None:
        responses = self.responses
        responses[api_key] = responses.get(api_key, 0) + 1
        latencies = self.latencies
        latencies.append((api_key, latency_s))
        if len(latencies) >= self.FLUSH_AT:
            self._flush()


class _FlushFirst:
    """Registered first, so the registry runs `flush` before it collects any other metric."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        self._flush()
        return []


class Metrics:
    """Every `kfp_` metric; attributes are the metrics, methods return cached label children."""

    def __init__(self, clusters: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tally = TrafficTally(self.flush)
        self.registry.register(_FlushFirst(self.flush))
        self._build_traffic()
        self._build_switch()
        self._clusters: list[str] = []
        for name in clusters:
            self._know_cluster(name)

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def _build_traffic(self) -> None:
        self.requests_total = self._counter("kfp_requests_total", "Client requests by API", ("api",))
        self.responses_total = self._counter("kfp_responses_total", "Responses to clients by API", ("api",))
        self.bytes_total = self._counter("kfp_bytes_total", "Bytes relayed by direction", ("direction",))
        self.request_latency_seconds = Histogram(
            "kfp_request_latency_seconds", "Request forwarded to response received, by API", ("api",),
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.client_connections = self._gauge("kfp_client_connections", "Open client connections")
        self.upstream_connections = self._gauge("kfp_upstream_connections", "Open upstream connections",
                                                ("cluster",))
        self.upstream_errors_total = self._counter("kfp_upstream_errors_total", "Upstream failures",
                                                   ("cluster", "reason"))
        self.rewrites_total = self._counter("kfp_rewrites_total", "Frames rewritten, by API", ("api",))
        self.frame_errors_total = self._counter("kfp_frame_errors_total", "Malformed or oversized frames",
                                                ("reason",))
        self.bytes_client_in = self.bytes_total.labels("client_in")
        self.bytes_client_out = self.bytes_total.labels("client_out")
        self.bytes_upstream_in = self.bytes_total.labels("upstream_in")
        self.bytes_upstream_out = self.bytes_total.labels("upstream_out")
        self._requests = _Children(self.requests_total.labels, _by_api)
        self._responses = _Children(self.responses_total.labels, _by_api)
        self._latency = _Children(self.request_latency_seconds.labels, _by_api)
        self._rewrites = _Children(self.rewrites_total.labels, _by_api)
        self._upstream_connections = _Children(self.upstream_connections.labels, _one)
        self._upstream_errors = _Children(self.upstream_errors_total.labels, _many)
        self._frame_errors = _Children(self.frame_errors_total.labels, _one)
        self.sasl_logins_total = self._counter("kfp_sasl_logins_total",
                                               "Client logins at a terminating listener, by outcome", ("outcome",))
        self.seen_principals_gauge = self._gauge(
            "kfp_seen_principals", "Principals that logged in through the proxy (the governance gate compares them)")
        self.seen_principals_dropped = self._gauge(
            "kfp_seen_principals_dropped", "Logins of new principals not remembered: the seen set was full")
        self.upstream_reauthentications_total = self._counter(
            "kfp_upstream_reauthentications_total", "Service sessions renewed on open upstream connections (KIP-368)",
            ("cluster",))

    def _build_switch(self) -> None:
        self.active_cluster = self._gauge("kfp_active_cluster", "1 for the cluster clients are routed to",
                                          ("cluster",))
        self.switch_epoch = self._gauge("kfp_switch_epoch", "Completed switches since start")
        self.fenced = self._gauge("kfp_fenced", "1 while produce and new transactions are fenced (held or refused)")
        self.fenced_requests_total = self._counter("kfp_fenced_requests_total",
                                                   "Requests held or refused by the fence", ("api",))
        self.switches_total = self._counter("kfp_switches_total", "Switches by outcome", ("outcome",))
        self.switch_phase_seconds = Histogram(
            "kfp_switch_phase_seconds", "Duration of each switch phase", ("phase",),
            buckets=PHASE_BUCKETS, registry=self.registry)
        self.replication_lag_records = self._gauge(
            "kfp_replication_lag_records", "Records the mirror has not copied yet", ("source", "target"))
        self.held_fetches = self._gauge("kfp_held_fetches", "Consumer fetches held until the client rejoins")
        self.state_active_cluster = self._gauge("kfp_state_active_cluster",
                                                "1 for the cluster the switch-state store names active", ("cluster",))
        self.state_switch_epoch = self._gauge("kfp_state_switch_epoch", "Switch epoch in the switch-state store")
        self.state_write_errors = self._counter("kfp_state_write_errors_total",
                                                "Writes to the switch-state store that failed")
        self.readiness_score = self._gauge("kfp_readiness_score",
                                           "Readiness gate score 0/1/2 for a switch to target", ("target", "gate"))
        self.readiness_candidate = self._gauge("kfp_readiness_production_candidate",
                                               "1 when no critical readiness gate scores 0", ("target",))
        self.client_software_connections = self._gauge(
            "kfp_client_software_connections", "Open client connections by library and version",
            ("library", "version"))
        self.client_software_requests_total = self._counter(
            "kfp_client_software_requests_total", "Requests by client library and version", ("library", "version"))
        self._fenced_requests = _Children(self.fenced_requests_total.labels, _by_api)
        self._switches = _Children(self.switches_total.labels, _one)
        self._phases = _Children(self.switch_phase_seconds.labels, _one)
        self._lag = _Children(self.replication_lag_records.labels, _many)

    def flush(self) -> None:
        """Move the tally's counts into the metrics (before every collection)."""
        tally = self.tally
        for child, attribute in ((self.bytes_client_in, "client_in"), (self.bytes_client_out, "client_out"),
                                 (self.bytes_upstream_in, "upstream_in"), (self.bytes_upstream_out, "upstream_out")):
            count = getattr(tally, attribute)
            if count:
                setattr(tally, attribute, 0)
                child.inc(count)
        requests, responses, latencies = tally.requests, tally.responses, tally.latencies
        tally.requests, tally.responses, tally.latencies = {}, {}, []
        for api_key, count in requests.items():
            self.request(api_key).inc(count)
        for api_key, count in responses.items():
            self.response(api_key).inc(count)
        for api_key, seconds in latencies:
            self.latency(api_key).observe(seconds)

    # -- per-API children (hot path) -----------------------------------------------------------------

    def request(self, api_key: int) -> Any:
        return self._requests.get(api_key)

    def response(self, api_key: int) -> Any:
        return self._responses.get(api_key)

    def latency(self, api_key: int) -> Any:
        return self._latency.get(api_key)

    def rewrite(self, api_key: int) -> Any:
        return self._rewrites.get(api_key)

    def fenced_request(self, api_key: int) -> Any:
        return self._fenced_requests.get(api_key)

    # -- connections and errors ----------------------------------------------------------------------

    def upstream_connection(self, cluster: str) -> Any:
        return self._upstream_connections.get(cluster)

    def upstream_connected(self, cluster: str, delta: int) -> None:
        """+1 when an upstream connection opens, -1 when it closes."""
        self.upstream_connection(cluster).inc(delta)

    def upstream_error(self, cluster: str, reason: str) -> None:
        self._upstream_errors.get((cluster, reason)).inc()

    def frame_error(self, reason: str) -> None:
        self._frame_errors.get(reason).inc()

    def upstream_reauthenticated(self, cluster: str) -> None:
        self.upstream_reauthentications_total.labels(cluster).inc()

    def sasl_login(self, succeeded: bool) -> None:
        self.sasl_logins_total.labels("succeeded" if succeeded else "failed").inc()

    # -- switch ---------------------------------------------------------------------------------------

    def seen_principals(self, count: int, dropped: int) -> None:
        self.seen_principals_gauge.set(count)
        self.seen_principals_dropped.set(dropped)

    def set_active(self, cluster: str) -> None:
        """Active cluster gauge: 1 for `cluster`, 0 for every other cluster seen so far."""
        self._know_cluster(cluster)
        for name in self._clusters:
            self.active_cluster.labels(name).set(1 if name == cluster else 0)

    def set_state_active(self, cluster: str) -> None:
        """Stored active cluster gauge: 1 for `cluster`, 0 for every other cluster seen so far."""
        self._know_cluster(cluster)
        for name in self._clusters:
            self.state_active_cluster.labels(name).set(1 if name == cluster else 0)

    def switch_outcome(self, outcome: str) -> Any:
        return self._switches.get(outcome)

    def switch_phase(self, phase: str) -> Any:
        return self._phases.get(phase)

    def replication_lag(self, source: str, target: str) -> Any:
        return self._lag.get((source, target))

    def _know_cluster(self, name: str) -> None:
        if name not in self._clusters:
            self._clusters.append(name)
            self.active_cluster.labels(name).set(0)
            self.state_active_cluster.labels(name).set(0)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry (for GET /metrics)."""
        return generate_latest(self.registry)
