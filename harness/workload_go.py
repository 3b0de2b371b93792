"""The Go client franz-go as workload workers: harness/go_workload, built on first use.

The program prints the Java tools' events (producer_send_success, record_data,
offsets_committed), so its workers are the Java workers with another tool behind them; only what
franz-go adds is handled here: `offset_reset` (franz-go's ErrDataLoss: it moved a position the
commit did not explain) and `fatal` (the client gave up). franz-go caches topic ids (Fetch v13+ and
Produce v13 address topics by id), which is why it is tested apart from the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import go_build
from harness.workload_java import JavaConsumer, JavaProducer, JavaTool


class GoTool(JavaTool):
    """The Go program in one mode; `args` are its flags, no properties file, no JVM."""

    def __init__(self, name: str, mode: str, args: list[str]) -> None:
        super().__init__(name, mode, args, {})

    def command(self, workdir: Path) -> list[str]:
        return [str(go_build.build()), "-mode", self.main_class, *self.args]


class GoProducer(JavaProducer):
    """Idempotent (franz-go's default), acks=all, default client id "kgo"; values `<prefix>.<seq>`."""

    library = "franz-go"

    def __init__(self, bootstrap: str, topic: str, name: str, rate: float = 200.0, run_id: str | None = None,
                 compression: str = "snappy") -> None:
        super().__init__(bootstrap, topic, name, rate, run_id, compression)

    def make_tool(self) -> JavaTool:
        return GoTool(self.name, "produce", ["-bootstrap-server", self.bootstrap, "-topic", self.topic,
                                             "-throughput", str(self.rate), "-value-prefix", str(self.number),
                                             "-compression", self.compression])

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("name") == "fatal":
            self.fatal = str(event.get("message"))
        super()._on_event(event)


class GoConsumer(JavaConsumer):
    """A group consumer, classic (cooperative-sticky unless `assignor`) or KIP-848, a sync commit per poll."""

    library = "franz-go"

    def make_tool(self) -> JavaTool:
        args = ["-bootstrap-server", self.bootstrap, "-topic", self.topic, "-group-id", self.group,
                "-group-protocol", self.group_protocol, "-isolation-level", self.isolation_level,
                "-session-timeout", str(self.session_timeout_ms)]
        if self.assignor is not None:
            args += ["-balancer", self.assignor]
        return GoTool(self.name, "consume", args)

    def _on_event(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if name == "offset_reset":
            self.error(f"offset reset on partition {event.get('partition')}: {event.get('message')}")
        elif name == "error":
            self.error(f"partition {event.get('partition')}: {event.get('message')}")
        elif name == "fatal":
            self.fatal = str(event.get("message"))
        else:
            super()._on_event(event)
