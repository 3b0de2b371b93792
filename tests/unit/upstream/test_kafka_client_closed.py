"""A connection the broker already closed fails a request at once, and the admin replaces it."""

from __future__ import annotations

import asyncio
import time

import pytest

from protocol.messages import metadata
from proxy.upstream.cluster_admin import ClusterAdmin
from proxy.upstream.kafka_client import KafkaClientError, KafkaConnection


class NullWriter:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass


def test_a_request_after_the_broker_closed_the_connection_fails_at_once() -> None:
    async def scenario() -> float:
        reader = asyncio.StreamReader()
        reader.feed_eof()  # the broker closed an idle connection
        conn = KafkaConnection(reader, NullWriter(), "test")  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the read loop sees the end
        started = time.monotonic()
        with pytest.raises(KafkaClientError, match="closed"):
            await conn.request(metadata, 12, {"Topics": None, "AllowAutoTopicCreation": False}, timeout_s=2.0)
        await conn.close()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.5


def test_the_admin_opens_a_new_connection_where_the_kept_one_was_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> bool:
        admin = ClusterAdmin("A", [("127.0.0.1", 1)])
        reader = asyncio.StreamReader()
        reader.feed_eof()
        idle = KafkaConnection(reader, NullWriter(), "test")  # type: ignore[arg-type]
        admin._conns[("127.0.0.1", 1)] = idle
        await asyncio.sleep(0)
        fresh = KafkaConnection(asyncio.StreamReader(), NullWriter(), "test")  # type: ignore[arg-type]

        async def open_(*args: object, **kwargs: object) -> KafkaConnection:
            return fresh

        monkeypatch.setattr(KafkaConnection, "open", open_)
        got = await admin._conn()
        await admin.close()
        return got is fresh

    assert asyncio.run(scenario())
