"""ApiVersions, answered by the proxy itself and never forwarded.

Clients negotiate versions once per connection and keep them for its life, so what the proxy
advertises must work on every cluster it may route to: per API the intersection of every
configured cluster's range and the proxy's own, computed once the clusters have answered and
refreshed when one becomes reachable. APIs that a cluster lacks or that the proxy cannot rewrite
safely are left out. Produce keeps a minimum of 0 (KAFKA-18659: librdkafka turns compression off
without v0, though brokers reject v0-2). Finalized features are the lower level of the clusters,
under a features epoch the proxy owns and only ever raises (clients ignore a lower epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as cs

from protocol import schema
from protocol.messages import api_versions

UNSUPPORTED_VERSION = 35
REBOOTSTRAP_REQUIRED = 129
INVALID_REQUEST = 42

# Never advertised: telemetry ids are broker-issued (71, 72); controller endpoints (55) and voter
# changes (80-82) would leak real addresses; broker registration is not a client's business (64).
HIDDEN_APIS = frozenset({55, 64, 71, 72, 80, 81, 82,
                         90, 91, 92})  # share-group offset admin APIs: topic ids the proxy does not map
# APIs whose newest versions carry topic ids the proxy does not map: capped at the last version
# without them (CreateTopics v7, DeleteTopics v6, TxnOffsetCommit v6 add TopicId).
BEFORE_TOPIC_IDS = {19: 6, 20: 5, 28: 5}


def _caps() -> dict[int, tuple[int, int]]:
    """APIs whose bodies the proxy decodes are capped at the versions our codecs know."""
    from protocol.messages import MESSAGES

    caps = {}
    for key in (0, 1, 3, 8, 9, 10, 18, 22, 32, 60, 68, 69, 75, 76, 77, 78, 79):
        module = MESSAGES.get(key)
        if module is not None:
            caps[key] = module.RESPONSE.version_range
    for key, highest in BEFORE_TOPIC_IDS.items():
        caps[key] = (0, highest)
    caps[17] = (1, 1)  # SaslHandshake v0 is followed by unframed tokens no frame splitter can read
    return caps


@dataclass(frozen=True)
class Advertised:
    """The ApiVersions answer content, identical for every connection until recomputed."""

    api_ranges: dict[int, tuple[int, int]]
    supported_features: dict[str, tuple[int, int]]
    finalized_features: dict[str, tuple[int, int]]
    features_epoch: int


def intersect(ranges: list[dict[int, tuple[int, int]]], caps: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Per API key: [max of minimums, min of maximums] over every cluster and our caps."""
    if not ranges:
        return {}
    common = set(ranges[0]).intersection(*ranges[1:]) - HIDDEN_APIS
    out: dict[int, tuple[int, int]] = {}
    for key in sorted(common):
        lows = [r[key][0] for r in ranges]
        highs = [r[key][1] for r in ranges]
        if key in caps:
            lows.append(caps[key][0])
            highs.append(caps[key][1])
        low, high = max(lows), min(highs)
        if key == 0:
            low = min(r[key][0] for r in ranges)  # the Produce min-0 quirk survives the intersection
        if low <= high:
            out[key] = (low, high)
    return out


def _features(per_cluster: list[dict[str, tuple[int, int]]], lowest: bool) -> dict[str, tuple[int, int]]:
    if not per_cluster:
        return {}
    names = set(per_cluster[0]).intersection(*per_cluster[1:])
    out = {}
    for name in sorted(names):
        lows = [c[name][0] for c in per_cluster]
        highs = [c[name][1] for c in per_cluster]
        out[name] = (min(lows), min(highs)) if lowest else (max(lows), min(highs))
    return out


class ApiVersionsAnswer:
    """Holds the advertised set and answers each client's ApiVersions request."""

    def __init__(self, virtual_cluster_id: str) -> None:
        self.virtual_cluster_id = virtual_cluster_id
        self.advertised = Advertised({}, {}, {}, 0)

    def recompute(
        self,
        api_ranges: list[dict[int, tuple[int, int]]],
        supported: list[dict[str, tuple[int, int]]],
        finalized: list[dict[str, tuple[int, int]]],
    ) -> bool:
        """Recompute from every cluster's ranges; True if anything changed. The epoch only rises."""
        new_ranges = intersect(api_ranges, _caps())
        new_supported = _features(supported, lowest=False)
        new_finalized = _features(finalized, lowest=True)
        old = self.advertised
        if (new_ranges, new_supported, new_finalized) == (old.api_ranges, old.supported_features,
                                                          old.finalized_features):
            return False
        self.advertised = Advertised(new_ranges, new_supported, new_finalized, old.features_epoch + 1)
        return True

    @property
    def own_range(self) -> tuple[int, int]:
        return self.advertised.api_ranges.get(18, api_versions.RESPONSE.version_range)

    def respond(self, version: int, request: bytes | memoryview | None, virtual_node: int | None) -> tuple[int, bytes]:
        """The (response version, body) for a client's ApiVersions request.

        A version above ours gets a v0 UNSUPPORTED_VERSION answer listing our key-18 range (KIP-511),
        which every client retries at that range's max.
        """
        low, high = self.own_range
        if version > high or version < low:
            body = schema.new(api_versions.RESPONSE, 0, ErrorCode=UNSUPPORTED_VERSION,
                              ApiKeys=[cs.Container(ApiKey=18, MinVersion=low, MaxVersion=high)])
            return 0, schema.encode(api_versions.RESPONSE, 0, body)
        error = self._check_identity(version, request, virtual_node)
        return version, schema.encode(api_versions.RESPONSE, version, self._body(version, error))

    def _check_identity(self, version: int, request: bytes | memoryview | None, virtual_node: int | None) -> int:
        """KIP-1242: a v5 request naming another cluster or node must rebootstrap."""
        if version < 5 or request is None:
            return 0
        decoded = schema.decode(api_versions.REQUEST, version, request)
        cluster_id = decoded.get("ClusterId")
        node_id = decoded.get("NodeId", -1)
        if cluster_id is None:
            return INVALID_REQUEST if node_id not in (-1, None) else 0
        if cluster_id != self.virtual_cluster_id:
            return REBOOTSTRAP_REQUIRED
        if node_id != -1 and virtual_node is not None and node_id != virtual_node:
            return REBOOTSTRAP_REQUIRED
        return 0

    def _body(self, version: int, error: int) -> cs.Container:
        adv = self.advertised
        keys = [cs.Container(ApiKey=k, MinVersion=lo, MaxVersion=hi) for k, (lo, hi) in adv.api_ranges.items()]
        body = schema.new(api_versions.RESPONSE, version, ErrorCode=error, ApiKeys=keys)
        if version >= 3:
            body.SupportedFeatures = [cs.Container(Name=n, MinVersion=lo, MaxVersion=hi)
                                      for n, (lo, hi) in adv.supported_features.items()]
            body.FinalizedFeaturesEpoch = adv.features_epoch
            body.FinalizedFeatures = [cs.Container(Name=n, MinVersionLevel=lo, MaxVersionLevel=hi)
                                      for n, (lo, hi) in adv.finalized_features.items()]
        return body
