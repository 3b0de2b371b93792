"""A playbook for the switch machine: `>>` an event, `<<` each action expected from it, in order.

    assert (Playbook(machine)
            >> ProduceFenced(now=10)
            << RecordPhase("s1", Phase.DRAIN, 10)
            << WaitForDrain)          # a class matches any action of that class

Evaluating the playbook (`assert`, `bool`) feeds the events still unplayed and compares every
action list exactly: a missing, extra or reordered action fails with both lists shown. Played
events stay played, so one playbook can be extended and asserted again step by step.
"""

from __future__ import annotations

from typing import Any

from proxy.switch.machine.actions import Action
from proxy.switch.machine.events import Event
from proxy.switch.machine.machine import SwitchMachine


class Playbook:
    def __init__(self, machine: SwitchMachine) -> None:
        self.machine = machine
        self.script: list[tuple[Event, list[Any]]] = []
        self.played = 0
        self.actual: list[list[Action]] = []

    def __rshift__(self, event: Event) -> Playbook:
        self.script.append((event, []))
        return self

    def __lshift__(self, expected: Any) -> Playbook:
        if not self.script:
            raise ValueError("an expected action needs an event before it")
        self.script[-1][1].append(expected)
        return self

    def __bool__(self) -> bool:
        while self.played < len(self.script):
            event, expected = self.script[self.played]
            actions = self.machine.handle(event)
            self.actual.append(actions)
            self.played += 1
            if not _matches(expected, actions):
                raise AssertionError(
                    f"after {event!r} (step {self.machine.state.step}):\n"
                    f"  expected {_show(expected)}\n  got      {_show(actions)}")
        return True


def _matches(expected: list[Any], actual: list[Action]) -> bool:
    if len(expected) != len(actual):
        return False
    return all(isinstance(a, e) if isinstance(e, type) else a == e for e, a in zip(expected, actual, strict=True))


def _show(items: list[Any]) -> str:
    return "[" + ", ".join(i.__name__ if isinstance(i, type) else repr(i) for i in items) + "]"
