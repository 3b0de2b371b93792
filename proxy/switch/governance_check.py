"""The governance gate's reading step: both clusters read side by side, in bounded time.

A planned switch (and its dry run) gets `PLANNED_BUDGET_S` to read A and B; an emergency switch
only `EMERGENCY_BUDGET_S`, because A may be gone and the switch must never wait on evidence. What
could not be read in time is "not readable" evidence in the report, never a refusal by itself: only
a difference actually seen (B lacks what A grants) blocks, in `governance_gate`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping

from proxy.switch.machine.governance import SECTIONS, GovernanceReport, GovernanceSnapshot, compare_governance
from proxy.upstream.cluster_admin import ClusterAdmin
from proxy.upstream.governance_reader import read_governance

PLANNED_BUDGET_S = 15.0
EMERGENCY_BUDGET_S = 2.0


async def read_and_compare(source: ClusterAdmin, target: ClusterAdmin, budget_s: float,
                           seen_principals: Iterable[str] = (),
                           seen_scram: Mapping[str, Collection[str]] | None = None) -> GovernanceReport:
    """A's and B's governance compared over A's replicated topics and the principals seen through
    the proxy (`compare_governance`); unread sections say why."""
    try:
        a, b = await asyncio.wait_for(asyncio.gather(read_governance(source), read_governance(target)), budget_s)
    except TimeoutError:
        why = f"not read within {budget_s:g} s"
        a = GovernanceSnapshot(source.name, unreadable=dict.fromkeys(SECTIONS, why))
        b = GovernanceSnapshot(target.name, unreadable=dict.fromkeys(SECTIONS, why))
    return compare_governance(a, b, sorted(a.partitions or ()), seen_principals, seen_scram)
