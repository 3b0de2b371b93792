"""What the proxy knows about each upstream cluster, kept fresh by a background poller.

Routing needs the active cluster's brokers (real node id -> host:port); the locally answered
ApiVersions needs every cluster's API ranges and features; readiness and the switch need to know
whether a cluster answers at all. One `UpstreamMonitor` per configured cluster polls ApiVersions and
Metadata over the proxy's own connection and publishes an immutable `ClusterView`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol.errors import ProtocolError
from protocol.messages import metadata
from proxy.log import upstream as log
from proxy.security.upstream import PLAINTEXT, UpstreamSecurity
from proxy.upstream.kafka_client import KafkaClientError, KafkaConnection


@dataclass(frozen=True, slots=True)
class ClusterView:
    """One consistent snapshot of an upstream cluster."""

    name: str
    reachable: bool
    cluster_id: str | None = None
    brokers: dict[int, tuple[str, int]] = field(default_factory=dict)
    controller_id: int = -1
    api_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    supported_features: dict[str, tuple[int, int]] = field(default_factory=dict)
    finalized_features: dict[str, tuple[int, int]] = field(default_factory=dict)
    topic_ids: dict[str, bytes] = field(default_factory=dict)  # every topic's real id (Metadata v10+)
    updated_at: float = 0.0
    error: str | None = None


Listener = Callable[[ClusterView], None]


class UpstreamMonitor:
    """Polls one cluster; every new view goes to the listeners."""

    def __init__(self, name: str, bootstrap: list[tuple[str, int]], interval_s: float = 5.0,
                 poke_gap_s: float = 0.25, security: UpstreamSecurity = PLAINTEXT) -> None:
        self.name = name
        self.security = security
        self.bootstrap = bootstrap
        self.interval_s = interval_s
        self.poke_gap_s = poke_gap_s
        self.view = ClusterView(name, reachable=False)
        self._listeners: list[Listener] = []
        self._poked = asyncio.Event()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def poke(self) -> None:
        """Poll again soon: a broker refused a connection, or a slot's broker is missing from the view.

        A dead broker stays in the view until the next poll, and a restarted one is missing until
        then, so waiting out `interval_s` would route a slot wrongly for up to that long.
        """
        self._poked.set()

    async def run(self) -> None:
        while True:
            self._poked.clear()
            self._publish(await self.poll_once())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.interval_s)
                await asyncio.sleep(self.poke_gap_s)  # a burst of pokes (every client of a dead broker) is one poll

    async def poll_once(self) -> ClusterView:
        last_error = "no bootstrap servers"
        for host, port in self._candidates():
            try:
                return await self._read_view(host, port)
            except (KafkaClientError, ProtocolError, OSError) as exc:
                last_error = f"{host}:{port}: {exc}"
        return ClusterView(self.name, reachable=False, brokers=self.view.brokers, cluster_id=self.view.cluster_id,
                           api_ranges=self.view.api_ranges, topic_ids=self.view.topic_ids, updated_at=time.time(),
                           error=last_error)

    def _candidates(self) -> list[tuple[str, int]]:
        known = list(self.view.brokers.values())
        return list(dict.fromkeys(self.bootstrap + known))

    async def _read_view(self, host: str, port: int) -> ClusterView:
        conn = await KafkaConnection.open(host, port, client_id="kfp-monitor", security=self.security)
        try:
            version = conn.pick_version(metadata, highest=12)
            # every topic (Topics null): the proxy's topic-id map must know an id before a client sends it
            response = await conn.request(metadata, version, {"Topics": None, "AllowAutoTopicCreation": False})
        finally:
            await conn.close()
        api = conn.api_versions_response
        assert api is not None
        return ClusterView(
            name=self.name,
            reachable=True,
            cluster_id=response.get("ClusterId"),
            brokers={b.NodeId: (b.Host, b.Port) for b in response.Brokers},
            controller_id=response.get("ControllerId", -1),
            api_ranges=dict(conn.versions),
            supported_features={f.Name: (f.MinVersion, f.MaxVersion) for f in api.get("SupportedFeatures") or []},
            finalized_features={
                f.Name: (f.MinVersionLevel, f.MaxVersionLevel) for f in api.get("FinalizedFeatures") or []
            },
            topic_ids={t.Name: t.TopicId.bytes for t in response.Topics if t.get("TopicId") is not None and t.Name},
            updated_at=time.time(),
        )

    def _publish(self, view: ClusterView) -> None:
        if view.reachable != self.view.reachable:
            if view.reachable:
                log.info("cluster %s reachable: %d brokers, cluster id %s", view.name, len(view.brokers),
                         view.cluster_id)
            else:
                log.warning("cluster %s unreachable: %s", view.name, view.error)
        self.view = view
        for listener in self._listeners:
            listener(view)
