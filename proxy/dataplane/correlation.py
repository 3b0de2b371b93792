"""Correlation: which request each response answers, and the order responses must leave in.

A Kafka response header carries only the correlation id, and a connection's responses must reach
the client in request order. Most requests are answered by the upstream broker (which keeps order
itself), but the proxy answers some locally (ApiVersions, fenced Produce). A local answer must wait
behind every earlier request still at the broker, so all requests of a connection sit in one FIFO
and answers leave only from its head.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol.errors import RemoteProtocolError


@dataclass(slots=True)
class Pending:
    """One request of a client connection, waiting for its answer."""

    correlation_id: int
    api_key: int
    api_version: int
    started_ns: int
    local: bool = False
    answer: list[bytes | memoryview] | None = field(default=None)
    kept_bytes: int = 0  # bytes of `answer` the connection keeps (not views of a read buffer)


class ResponseOrder:
    """The FIFO of a connection's outstanding requests."""

    __slots__ = ("_queue", "_upstream_waiting", "held")

    def __init__(self) -> None:
        self._queue: deque[Pending] = deque()
        self._upstream_waiting: deque[Pending] = deque()
        self.held = 0
        """Requests held unanswered (a switch's fenced Produce): they stay until the connection closes."""

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def upstream_outstanding(self) -> int:
        """Requests forwarded to the broker and not answered yet (what DRAIN waits for)."""
        return len(self._upstream_waiting)

    def outstanding(self, api_keys: frozenset[int]) -> int:
        return sum(1 for entry in self._upstream_waiting if entry.api_key in api_keys)

    def expect_upstream(self, correlation_id: int, api_key: int, api_version: int, now_ns: int) -> Pending:
        entry = Pending(correlation_id, api_key, api_version, now_ns)
        self._queue.append(entry)
        self._upstream_waiting.append(entry)
        return entry

    def answer_locally(
        self, correlation_id: int, api_key: int, api_version: int, now_ns: int, frame: Sequence[bytes | memoryview],
        kept_bytes: int = 0,
    ) -> None:
        self._queue.append(Pending(correlation_id, api_key, api_version, now_ns, True, list(frame), kept_bytes))

    def hold(self, correlation_id: int, api_key: int, api_version: int, now_ns: int) -> None:
        """A request the proxy neither answers nor forwards: everything after it waits (never released)."""
        self._queue.append(Pending(correlation_id, api_key, api_version, now_ns, True))
        self.held += 1

    def match_upstream(self, correlation_id: int) -> Pending:
        """The request an upstream response answers; brokers answer in order, so it is the oldest."""
        if not self._upstream_waiting:
            raise RemoteProtocolError(f"response with correlation id {correlation_id} but nothing outstanding")
        entry = self._upstream_waiting.popleft()
        if entry.correlation_id != correlation_id:
            raise RemoteProtocolError(
                f"response correlation id {correlation_id}, expected {entry.correlation_id}"
            )
        return entry

    def abandon(self) -> list[Pending]:
        """The connection closed: requests still at the broker (their fate unknown); the queue empties."""
        waiting = list(self._upstream_waiting)
        self._upstream_waiting.clear()
        self._queue.clear()
        self.held = 0
        return waiting

    def release(self) -> list[Pending]:
        """Answered entries at the head, in order; they leave the queue."""
        out: list[Pending] = []
        queue = self._queue
        while queue and queue[0].answer is not None:
            out.append(queue.popleft())
        return out
