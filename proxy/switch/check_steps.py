"""Which step of the switch's outstanding check is running, for the abort reason of a timeout.

A catch-up timeout used to say only "waiting for the mirror check": one check is a dozen requests
to two clusters, and the one that hung could not be told from the record. The executor names each
step as it starts; when the phase timer fires, `describe` says which one was running and for how
long, and how long the finished ones took.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CheckSteps:
    """The steps of the latest check: finished ones with their durations, and the running one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._check = ""
        self._done: list[tuple[str, float]] = []
        self._step = ""
        self._detail = ""
        self._since = 0.0

    def start(self, check: str) -> None:
        self._check, self._done, self._step, self._detail = check, [], "", ""
        self._since = self._clock()

    def step(self, name: str) -> None:
        """The previous step finished; `name` starts now."""
        now = self._clock()
        if self._step:
            self._done.append((self._step, now - self._since))
        self._step, self._detail, self._since = name, "", now

    def note(self, detail: str) -> None:
        """Progress inside the running step (e.g. "12 of 300 partitions"); its clock keeps running."""
        self._detail = detail

    def finish(self) -> str:
        """The check is over: its steps with their durations, slowest first, for the log."""
        now = self._clock()
        took = [*self._done, (self._step, now - self._since)] if self._step else list(self._done)
        self._check = ""
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in sorted(took, key=lambda t: -t[1]))

    def describe(self) -> str:
        if not self._check:
            return ""
        if not self._step:
            return f"{self._check} check not started yet"
        detail = f", {self._detail}" if self._detail else ""
        running = f"{self._check} check step '{self._step}' running for {self._clock() - self._since:.1f} s{detail}"
        if not self._done:
            return running
        return running + "; before it: " + ", ".join(f"{name} {took:.1f} s" for name, took in self._done)
