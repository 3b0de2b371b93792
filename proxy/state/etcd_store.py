"""Switch state in etcd, for a fleet of proxies sharing one epoch.

Why etcd's v3 JSON gateway over aiohttp rather than a gRPC client library: the store needs six calls
(range, put, txn, and the watch stream; leases come with fleet membership), aiohttp is already the
admin API's dependency, and the gateway is part of etcd's v3 API since 3.4 (Debian ships 3.4.23).
aetcd (maintained, 1.0.0) would add grpcio and a protobuf pin to every install for those six calls.

Layout under `prefix`: `<prefix>/cluster` holds the same JSON as the state file without records
(format, version, active, epoch, fences), so one key changes atomically; `<prefix>/records/<kind>/<key>`
holds one record each. compare_and_swap reads the cluster key, checks its epoch, and writes it in a
transaction guarded by the mod revision it read: two instances flipping from the same epoch cannot
both succeed, and a fence written meanwhile (same epoch, new revision) is retried, not lost.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from proxy.log import state as log
from proxy.state.snapshot import ClusterState, StateFormatError, StoredState, decode, encode
from proxy.state.store import StateConflict, StateStoreError

CAS_ATTEMPTS = 5
RECONNECT_S = 1.0


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: str) -> str:
    """The range end that covers every key starting with `prefix` (etcd's prefix convention)."""
    raw = prefix.encode()
    return b64(raw[:-1] + bytes([raw[-1] + 1]))


class EtcdStateStore:
    persistent = True

    def __init__(self, endpoints: Sequence[str], prefix: str, timeout_s: float = 5.0) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.prefix = prefix.rstrip("/")
        self.cluster_key = f"{self.prefix}/cluster"
        self.records_prefix = f"{self.prefix}/records/"
        self.description = f"etcd {','.join(self.endpoints)} {self.prefix}"
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    # -- interface ------------------------------------------------------------------------------------

    async def load(self) -> StoredState | None:
        cluster, _ = await self._read_cluster()
        answer = await self.call("/v3/kv/range", {"key": b64(self.records_prefix),
                                                    "range_end": prefix_end(self.records_prefix)})
        records: dict[str, dict[str, Any]] = {}
        for kv in answer.get("kvs", []):
            kind, _, key = unb64(kv["key"]).decode()[len(self.records_prefix):].partition("/")
            try:
                records.setdefault(kind, {})[key] = json.loads(unb64(kv.get("value", "")))
            except ValueError as exc:
                raise StateStoreError(f"{self.description}: record {kind}/{key} is corrupt: {exc}") from None
        if cluster is None:
            if records:
                raise StateStoreError(f"{self.description}: records without a cluster state (partly deleted?)")
            return None
        return StoredState(cluster, records)

    async def compare_and_swap(self, expected_epoch: int, cluster: ClusterState) -> StoredState:
        value = b64(encode(StoredState(cluster)))
        for _ in range(CAS_ATTEMPTS):
            current, revision = await self._read_cluster()
            stored_epoch = 0 if current is None else current.epoch
            if stored_epoch != expected_epoch:
                raise StateConflict(f"{self.description} holds epoch {stored_epoch}, expected {expected_epoch}")
            guard = ({"key": b64(self.cluster_key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
                     if current is None else
                     {"key": b64(self.cluster_key), "target": "MOD", "result": "EQUAL", "mod_revision": revision})
            answer = await self.call("/v3/kv/txn", {
                "compare": [guard], "success": [{"request_put": {"key": b64(self.cluster_key), "value": value}}]})
            if answer.get("succeeded"):
                return StoredState(cluster)
        raise StateConflict(f"{self.description}: the cluster state kept changing ({CAS_ATTEMPTS} attempts)")

    async def put_record(self, kind: str, key: str, value: Any) -> None:
        if value is None:
            await self.call("/v3/kv/deleterange", {"key": b64(f"{self.records_prefix}{kind}/{key}")})
            return
        await self.call("/v3/kv/put", {"key": b64(f"{self.records_prefix}{kind}/{key}"),
                                        "value": b64(json.dumps(value, sort_keys=True))})

    async def watch(self, every_s: float) -> AsyncIterator[StoredState]:
        """The cluster state now, then at every change; reconnects (and re-reads) when the stream drops."""
        while True:
            try:
                cluster, revision = await self._read_cluster()
                if cluster is not None:
                    yield StoredState(cluster)
                async for state in self._stream(int(revision or 0) + 1):
                    yield state
            except StateStoreError as exc:
                log.warning("watch of %s interrupted: %s", self.description, exc)
            await asyncio.sleep(RECONNECT_S)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- etcd ------------------------------------------------------------------------------------------

    async def get_json(self, key: str) -> tuple[Any, str | None]:
        """(decoded JSON value or None, mod revision) of one key."""
        kvs = (await self.call("/v3/kv/range", {"key": b64(key)})).get("kvs", [])
        if not kvs:
            return None, None
        return json.loads(unb64(kvs[0].get("value", ""))), kvs[0]["mod_revision"]

    async def put_json(self, key: str, value: Any, lease: str | None = None) -> None:
        body: dict[str, Any] = {"key": b64(key), "value": b64(json.dumps(value, sort_keys=True))}
        if lease is not None:
            body["lease"] = lease
        await self.call("/v3/kv/put", body)

    async def _read_cluster(self) -> tuple[ClusterState | None, str | None]:
        answer = await self.call("/v3/kv/range", {"key": b64(self.cluster_key)})
        kvs = answer.get("kvs", [])
        if not kvs:
            return None, None
        return self._decode_cluster(kvs[0].get("value", "")), kvs[0]["mod_revision"]

    def _decode_cluster(self, value: str) -> ClusterState:
        try:
            return decode(unb64(value), f"{self.description} {self.cluster_key}").cluster
        except StateFormatError as exc:
            raise StateStoreError(f"switch state in etcd is corrupt: {exc}") from None

    async def _stream(self, start_revision: int) -> AsyncIterator[StoredState]:
        async for value in self.stream_key(self.cluster_key, start_revision):
            yield StoredState(self._decode_cluster(value))

    async def stream_key(self, key: str, start_revision: int) -> AsyncIterator[str]:
        """The base64 value of every PUT of `key` from `start_revision` on, until the stream drops."""
        body = {"create_request": {"key": b64(key), "start_revision": str(start_revision)}}
        session = self._client()
        for endpoint in self.endpoints:
            try:
                async with session.post(endpoint + "/v3/watch", json=body,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s)) as resp:
                    async for line in resp.content:
                        for event in json.loads(line).get("result", {}).get("events", []):
                            if event.get("type", "PUT") == "PUT":
                                yield event["kv"].get("value", "")
                return
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.debug("watch on %s failed: %s", endpoint, exc)
        raise StateStoreError(f"no etcd endpoint of {self.description} answers the watch")

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the first endpoint that answers; all failing is a StateStoreError naming each."""
        errors = []
        for endpoint in self.endpoints:
            try:
                async with self._client().post(endpoint + path, json=body,
                                               timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                    answer = await resp.json(content_type=None)
                    if resp.status != 200:
                        raise StateStoreError(f"etcd {endpoint}{path} answered {resp.status}: {answer}")
                    return dict(answer)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                errors.append(f"{endpoint}: {exc!r}")
        raise StateStoreError(f"etcd unreachable ({'; '.join(errors)})")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session
