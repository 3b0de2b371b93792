"""The global buffer cap: pause everything once over it, resume below three quarters, forget the closed."""

from __future__ import annotations

from proxy.dataplane.budget import BufferBudget, Verdict


def test_passing_the_cap_pauses_all_once_and_falling_below_resume_mark_resumes_all() -> None:
    budget = BufferBudget(cap=1000)
    a, b = object(), object()
    assert budget.report(a, 600) is None
    assert budget.report(b, 500) is Verdict.PAUSE_ALL
    assert budget.report(b, 400) is None  # 1000: not below 750 yet, and already paused
    assert budget.report(a, 300) is Verdict.RESUME_ALL
    assert (budget.total, budget.over) == (700, False)


def test_a_closed_connection_leaves_no_entry_and_gives_its_bytes_back() -> None:
    budget = BufferBudget(cap=100)
    owners = [object() for _ in range(3)]
    for owner in owners:
        budget.report(owner, 50)
    assert budget.over and len(budget) == 3
    for owner in owners:
        budget.forget(owner)
    assert (len(budget), budget.total, budget.over) == (0, 0, False)


def test_an_idle_connection_costs_no_entry() -> None:
    budget = BufferBudget(cap=100)
    owner = object()
    budget.report(owner, 10)
    budget.report(owner, 0)
    assert len(budget) == 0


def test_a_recount_replaces_figures_that_drained_unannounced() -> None:
    budget = BufferBudget(cap=100)
    a, b = object(), object()
    budget.report(a, 80)
    assert budget.report(b, 80) is Verdict.PAUSE_ALL
    assert budget.recount({a: 10, b: 0}) is Verdict.RESUME_ALL
    assert (budget.total, len(budget)) == (10, 1)
