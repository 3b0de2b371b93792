"""Fail closed: a lease TTL without renewal means the view of the shared state is lost."""

from __future__ import annotations

from proxy.state.lease_clock import LeaseClock, Verdict


def test_lost_only_once_a_whole_ttl_passed_without_a_renewal() -> None:
    clock = LeaseClock(ttl_ms=10_000, now_ms=0)
    assert clock.tick(9_999) == Verdict.UNCHANGED
    assert clock.tick(10_000) == Verdict.LOST
    assert clock.tick(20_000) == Verdict.UNCHANGED  # reported once
    assert clock.lost


def test_a_renewal_after_a_loss_regains_the_view_and_restarts_the_count() -> None:
    clock = LeaseClock(ttl_ms=10_000, now_ms=0)
    clock.tick(10_000)
    assert clock.renewed(12_000) == Verdict.REGAINED
    assert clock.renewed(13_000) == Verdict.UNCHANGED
    assert clock.tick(21_999) == Verdict.UNCHANGED
    assert clock.tick(23_000) == Verdict.LOST
