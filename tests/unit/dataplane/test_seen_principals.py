"""The set of principals seen through the proxy: names and broker-checked SCRAM mechanisms, bounded."""

from __future__ import annotations

import logging

import pytest

from proxy.dataplane.seen_principals import SeenPrincipals


def test_a_login_is_remembered_once_with_the_scram_mechanisms_a_broker_checked() -> None:
    seen = SeenPrincipals()
    seen.add("User:alice", "SCRAM-SHA-512")
    seen.add("User:alice", "SCRAM-SHA-256")
    seen.add("User:bob", "PLAIN")
    seen.add("User:carol")  # a terminating listener's login: the broker checked nothing
    assert seen.names() == ("User:alice", "User:bob", "User:carol")
    assert seen.scram_logins() == {"User:alice": frozenset({"SCRAM-SHA-256", "SCRAM-SHA-512"})}


def test_past_the_cap_new_principals_are_dropped_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    changes: list[tuple[int, int]] = []
    seen = SeenPrincipals(cap=2, on_change=lambda count, dropped: changes.append((count, dropped)))
    with caplog.at_level(logging.WARNING):
        assert seen.add("User:a") and seen.add("User:b")
        assert not seen.add("User:c") and not seen.add("User:d")
        assert seen.add("User:a", "SCRAM-SHA-256")  # a known one still learns its mechanism
    assert seen.names() == ("User:a", "User:b") and seen.dropped == 2
    assert changes[-1] == (2, 2)
    assert len([r for r in caplog.records if "not remembered" in r.getMessage()]) == 1


def test_the_status_shows_names_and_counts_only() -> None:
    seen = SeenPrincipals(cap=500)
    for i in range(150):
        seen.add(f"User:u{i:03d}", "SCRAM-SHA-256")
    status = seen.status()
    assert status["count"] == 150 and status["truncated"] and len(status["names"]) == 100
    assert status["names"][0] == "User:u000" and status["dropped"] == 0
