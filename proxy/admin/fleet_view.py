"""The fleet as an operator reads it: one line per instance, and whether they all agree.

`/v1/status` of any instance carries `state.fleet`, the members registered in the shared store with
what each last published (active cluster, epoch, fence, the switch it leads). After a switch the
question is "is every instance on the target?"; an instance on another epoch is what a split would
look like, so the view says so and the CLI exits non-zero on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COLUMNS = ("instance", "admin", "active", "epoch", "fenced", "leading")


@dataclass(frozen=True, slots=True)
class FleetView:
    lines: tuple[str, ...]
    agreed: bool
    """Every instance on the same active cluster and epoch as the stored state."""
    problems: tuple[str, ...]


def fleet_view(status: dict[str, Any]) -> FleetView:
    state = status.get("state") or {}
    members = state.get("fleet")
    if members is None:
        return FleetView(("not in fleet mode: this proxy keeps its switch state alone "
                          f"({state.get('store', 'unknown store')})",), True, ())
    persisted = state.get("persisted") or {}
    want = (persisted.get("active"), persisted.get("switch_epoch"))
    ordered = sorted(members, key=lambda m: str(m.get("instance")))
    rows = [COLUMNS] + [tuple(_cell(m, c) for c in COLUMNS) for m in ordered]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = tuple("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                  for row in rows)
    problems = tuple(f"{m.get('instance')} is on {m.get('active')} at epoch {m.get('switch_epoch')}, "
                     f"the stored state on {want[0]} at epoch {want[1]}"
                     for m in members if (m.get("active"), m.get("switch_epoch")) != want)
    header = (f"stored state: active {want[0]}, epoch {want[1]} ({state.get('store')}); "
              f"{len(members)} instance(s)",)
    return FleetView(header + lines + tuple(f"! {p}" for p in problems), not problems, problems)


def _cell(member: dict[str, Any], column: str) -> str:
    key = "switch_epoch" if column == "epoch" else column
    value = member.get(key)
    if column == "fenced":
        return "yes" if value else "no"
    return "-" if value is None else str(value)
