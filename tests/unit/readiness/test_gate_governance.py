"""Readiness cites the governance gate's own comparison once a dry run or switch made one."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.readiness.collect import GateGovernance
from proxy.readiness.scoring import GovernanceDifference


class Fallback:
    name = "topics"

    def differences(self, active: str, target: str) -> Sequence[GovernanceDifference] | None:
        return [GovernanceDifference("orders", f"on {active}, not on {target}", "blocking")]


def test_before_any_comparison_the_fallback_answers() -> None:
    source = GateGovernance({}, Fallback())
    assert [d.subject for d in source.differences("A", "B") or ()] == ["orders"]
    assert source.name == "topics"


def test_the_gates_comparison_of_the_pair_is_what_readiness_scores() -> None:
    report = {"source": "A", "target": "B", "differences": [
        {"kind": "acl", "subject": "ALLOW User:alice READ on TOPIC literal 'orders'", "a": "present", "b": "missing",
         "severity": "blocking"},
        {"kind": "topic_config", "subject": "orders retention.ms", "a": "86400000", "b": "604800000",
         "severity": "warning"}]}
    source = GateGovernance({("A", "B"): report}, Fallback())
    found = source.differences("A", "B") or ()
    assert source.name == "comparison"
    assert [(d.subject, d.severity) for d in found] == [
        ("acl ALLOW User:alice READ on TOPIC literal 'orders'", "blocking"),
        ("topic_config orders retention.ms", "warning")]
    assert found[0].detail == "A: present; B: missing"


def test_a_clean_comparison_is_an_empty_list_not_a_missing_one() -> None:
    source = GateGovernance({("A", "B"): {"differences": []}}, Fallback())
    assert source.differences("A", "B") == [] and source.name == "comparison"
    assert source.differences("B", "A") is not None and source.name == "topics"  # the reverse pair was never compared
