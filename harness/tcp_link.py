"""A TCP link that a test can cut and mend: one process's path to a server, broken on purpose.

Stopping etcd cuts every instance off at once; a network partition cuts off one. Pointing one proxy
instance at etcd through a `TcpLink` lets a test partition that instance alone: `cut()` resets the
link's connections and refuses new ones (what a dropped route looks like to a client with a short
connect timeout), `mend()` accepts again. Runs its own event loop in a daemon thread, so tests stay
synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from harness.cluster import HOST, free_ports

PUMP_BYTES = 65536


class TcpLink:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_ports(1)[0]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-link-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.cuts = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> TcpLink:
        self._thread.start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        """Close the listener and reset every connection through the link."""
        self._run(self._cut())
        self.cuts += 1

    def mend(self) -> None:
        self._run(self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- on the link's loop ------------------------------------------------------------------------------

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, HOST, self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)
        self._writers.difference_update((writer, up_writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(PUMP_BYTES):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
