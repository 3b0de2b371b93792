"""A playbook for the connection core: `>>` an event, `<<` each command expected from it, in order.

    assert (Playbook(connection)
            >> ClientDataReceived(produce(1))
            << SendUpstream([produce(1)]))        # a class matches any command of that class

Send commands are compared by the bytes they put on the wire, so an expectation does not depend on
how a frame was cut into parts. Evaluating the playbook (`assert`, `bool`) plays the events not yet
played and compares every command list exactly; played events stay played, so a playbook can be
extended and asserted again step by step.
"""

from __future__ import annotations

from typing import Any

from proxy.dataplane.connection import Command, Connection, Event, SendClient, SendUpstream


class Playbook:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.script: list[tuple[Event, list[Any]]] = []
        self.played = 0

    def __rshift__(self, event: Event) -> Playbook:
        self.script.append((event, []))
        return self

    def __lshift__(self, expected: Any) -> Playbook:
        if not self.script:
            raise ValueError("an expected command needs an event before it")
        self.script[-1][1].append(expected)
        return self

    def __bool__(self) -> bool:
        while self.played < len(self.script):
            event, expected = self.script[self.played]
            commands = [_wire(c) for c in self.connection.handle(event)]
            self.played += 1
            if not _matches([_wire(e) for e in expected], commands):
                raise AssertionError(
                    f"after {_short(event)}:\n  expected {_show(expected)}\n  got      {_show(commands)}")
        return True


def _wire(command: Any) -> Any:
    if isinstance(command, (SendUpstream, SendClient)):
        return type(command)([b"".join(command.parts)])
    return command


def _matches(expected: list[Any], actual: list[Command]) -> bool:
    if len(expected) != len(actual):
        return False
    return all(isinstance(a, e) if isinstance(e, type) else a == e for e, a in zip(expected, actual, strict=True))


def _short(item: Any) -> str:
    text = repr(item)
    return text if len(text) < 300 else text[:300] + "..."


def _show(items: list[Any]) -> str:
    return "[" + ", ".join(i.__name__ if isinstance(i, type) else _short(i) for i in items) + "]"
