"""The switch's vocabulary of phases, outcomes and modes, plus the time limits each phase gets.

Phases are what an operator sees in `GET /v1/switch/{id}` and in the `kfp_switch_phase_seconds`
metric; their string values are therefore part of the admin API (lower case, as the admin layer's
`FINAL_PHASES` expects). The machine's finer internal steps live in `state.Step`; every step
belongs to exactly one phase.

All times in the switch package are integer milliseconds on the executor's clock: the machine never
reads a clock, it only adds limits to the `now` of the event it is handling and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    IDLE = "idle"
    FENCE = "fence"
    DRAIN = "drain"
    CATCH_UP = "catch_up"
    SWITCH = "switch"
    DONE = "done"
    ABORTING = "aborting"
    ABORTED = "aborted"


FINAL_PHASES = frozenset({Phase.DONE, Phase.ABORTED})


class Mode(StrEnum):
    PLANNED = "planned"
    EMERGENCY = "emergency"


class Outcome(StrEnum):
    """How a switch ended, as the admin API reports it (dry runs that ran to the end 'succeeded')."""

    SUCCEEDED = "succeeded"
    ABORTED = "aborted"


class DisconnectScope(StrEnum):
    """Which client connections `DisconnectClients` closes.

    ALL: every client connection (after the flip, so clients renegotiate against the new cluster).
    REFUSED_PRODUCERS: only connections that were answered at least one fenced Produce refusal
    since the fence went up (on unfence without a flip; see `fencing` for why).
    """

    ALL = "all"
    REFUSED_PRODUCERS = "refused_producers"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How long each phase may take, in milliseconds (the config's `switch:` section maps here).

    The request's `timeout_s` bounds everything before the flip (FENCE + DRAIN + CATCH_UP): the
    time producers are refused. Each pre-flip phase is further capped by its own limit, so a stuck
    drain cannot eat the whole budget. `rejoin_ms` bounds the fetch hold after the flip.
    """

    fence_ms: int = 5_000
    drain_ms: int = 10_000
    catch_up_ms: int = 60_000
    rejoin_ms: int = 30_000
    abort_ms: int = 5_000
    poll_ms: int = 100  # every re-check of a gate is time producers wait (issue 10): a check is a few admin requests
    group_settle_ms: int = 10_000
    group_write_attempts: int = 3

    @classmethod
    def from_seconds(cls, drain_timeout_s: float, catch_up_timeout_s: float, fetch_hold_timeout_s: float
                     ) -> Limits:
        """Limits from the config's `switch:` section; the other limits keep their defaults."""
        return cls(drain_ms=round(drain_timeout_s * 1000), catch_up_ms=round(catch_up_timeout_s * 1000),
                   rejoin_ms=round(fetch_hold_timeout_s * 1000))
