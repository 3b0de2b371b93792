"""The governance comparison: what B lacks blocks a planned switch, what B adds or changes warns."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from proxy.switch.machine.governance import (
    BLOCKING,
    WARNING,
    AclBinding,
    GovernanceSnapshot,
    compare_governance,
    governance_gate,
)

TOPICS = ("orders", "payments")


def allow(principal: str, resource: str = "orders", resource_type: str = "TOPIC", pattern: str = "LITERAL",
          operation: str = "READ", permission: str = "ALLOW") -> AclBinding:
    return AclBinding(resource_type, resource, pattern, principal, "*", operation, permission)


def snapshot(cluster: str, acls: set[AclBinding] | None = None, **sections: object) -> GovernanceSnapshot:
    defaults: dict[str, object] = {"scram": {}, "topic_configs": {}, "partitions": {}, "quotas": {}}
    return GovernanceSnapshot(cluster, frozenset(acls or ()), **{**defaults, **sections})  # type: ignore[arg-type]


def kinds(a: GovernanceSnapshot, b: GovernanceSnapshot) -> list[tuple[str, str]]:
    return [(d.kind, d.severity) for d in compare_governance(a, b, TOPICS).differences]


def test_identical_clusters_have_no_difference_and_pass_the_gate() -> None:
    a = snapshot("A", {allow("User:alice")}, scram={"alice": {"SCRAM-SHA-512": 4096}})
    report = compare_governance(a, snapshot("B", {allow("User:alice")}, scram={"alice": {"SCRAM-SHA-512": 4096}}),
                                TOPICS)
    assert report.differences == ()
    assert governance_gate(report, accept_gaps=False) is None


def test_an_acl_a_grants_and_b_lacks_blocks_and_is_named() -> None:
    report = compare_governance(snapshot("A", {allow("User:alice")}), snapshot("B"), TOPICS)
    [difference] = report.differences
    assert (difference.kind, difference.severity, difference.a, difference.b) == (
        "acl_missing_on_target", BLOCKING, "ALLOW", None)
    assert "User:alice READ on TOPIC literal 'orders'" in difference.subject
    reason = governance_gate(report, accept_gaps=False)
    assert reason is not None and "User:alice" in reason and "accept_governance_gaps" in reason
    assert governance_gate(report, accept_gaps=True) is None


def test_b_granting_more_warns_but_an_extra_deny_on_b_blocks() -> None:
    assert kinds(snapshot("A"), snapshot("B", {allow("User:eve")})) == [("acl_only_on_target", WARNING)]
    deny = allow("User:alice", permission="DENY")
    assert kinds(snapshot("A", {allow("User:alice")}), snapshot("B", {allow("User:alice"), deny})) == [
        ("acl_only_on_target", BLOCKING)]


def test_only_acls_on_replicated_topics_groups_and_transactional_ids_count() -> None:
    a = snapshot("A", {allow("User:alice", "other-topic"), allow("User:alice", "ord", pattern="PREFIXED"),
                       allow("User:alice", "billing", "GROUP"), allow("User:alice", "tx-1", "TRANSACTIONAL_ID"),
                       allow("User:alice", "*")})
    subjects = [d.subject for d in compare_governance(a, snapshot("B"), TOPICS).differences]
    assert len(subjects) == 4 and not any("other-topic" in s for s in subjects)


def test_scram_users_of_a_missing_on_b_block_and_extra_or_different_ones_warn() -> None:
    a = snapshot("A", scram={"alice": {"SCRAM-SHA-256": 8192, "SCRAM-SHA-512": 4096}})
    b = snapshot("B", scram={"alice": {"SCRAM-SHA-256": 4096}, "bob": {"SCRAM-SHA-512": 4096}})
    report = compare_governance(a, b, TOPICS)
    assert [(d.kind, d.subject, d.severity) for d in report.differences] == [
        ("scram_iterations_differ", "User:alice SCRAM-SHA-256", WARNING),
        ("scram_credential_missing_on_target", "User:alice SCRAM-SHA-512", BLOCKING),
        ("scram_credential_only_on_target", "User:bob SCRAM-SHA-512", WARNING)]


def test_config_partition_and_quota_differences_warn_without_blocking() -> None:
    a = snapshot("A", topic_configs={"orders": {"retention.ms": "604800000", "segment.ms": "1"}},
                 partitions={"orders": 6, "payments": 3}, quotas={"user=alice": {"producer_byte_rate": 1e6}})
    b = snapshot("B", topic_configs={"orders": {"retention.ms": "86400000", "segment.ms": "2"}},
                 partitions={"orders": 6, "payments": 4}, quotas={})
    report = compare_governance(a, b, TOPICS)
    assert [(d.kind, d.subject, d.a, d.b) for d in report.differences] == [
        ("topic_config_differs", "orders retention.ms", "604800000", "86400000"),
        ("partition_count_differs", "payments", 3, 4),
        ("client_quota_differs", "user=alice producer_byte_rate", 1e6, None)]
    assert report.blocking == () and governance_gate(report, accept_gaps=False) is None


def test_an_unreadable_section_is_evidence_not_a_crash() -> None:
    b = GovernanceSnapshot("B", acls=None, scram={}, topic_configs={}, partitions={}, quotas={},
                           unreadable={"acls": "SECURITY_DISABLED (54): no authorizer"})
    report = compare_governance(snapshot("A", {allow("User:alice")}), b, TOPICS)
    assert [(d.kind, d.subject, d.b, d.severity) for d in report.differences] == [
        ("not_readable", "acls", "SECURITY_DISABLED (54): no authorizer", WARNING)]


def test_principals_are_a_s_acl_principals_and_scram_users_plus_those_seen() -> None:
    a = snapshot("A", {allow("User:alice"), allow("User:*")}, scram={"bob": {"SCRAM-SHA-512": 4096}})
    report = compare_governance(a, a, TOPICS, seen_principals=["User:carol"])
    assert report.principals == ("User:alice", "User:bob", "User:carol")


def test_a_seen_scram_user_with_only_a_wildcard_acl_blocks_when_b_lacks_its_credential() -> None:
    a = snapshot("A", {allow("User:*")}, scram={"dora": {"SCRAM-SHA-512": 4096}})
    b = snapshot("B", {allow("User:*")})
    report = compare_governance(a, b, TOPICS, ["User:dora"], {"User:dora": {"SCRAM-SHA-512"}})
    assert [(d.kind, d.subject, d.severity) for d in report.differences] == [
        ("scram_credential_missing_on_target", "User:dora SCRAM-SHA-512", BLOCKING)]
    assert report.seen_principals == ("User:dora",)
    assert "User:dora SCRAM-SHA-512" in (governance_gate(report, accept_gaps=False) or "")


def test_when_a_s_scram_list_is_unreadable_a_login_seen_through_the_proxy_stands_for_it() -> None:
    a = GovernanceSnapshot("A", acls=frozenset(), scram=None, topic_configs={}, partitions={}, quotas={},
                           unreadable={"scram": "CLUSTER_AUTHORIZATION_FAILED (31)"})
    seen = {"User:erin": {"SCRAM-SHA-256"}, "User:fay": {"SCRAM-SHA-512"}}
    b = snapshot("B", scram={"fay": {"SCRAM-SHA-512": 4096}})
    report = compare_governance(a, b, TOPICS, (), seen)
    assert [(d.kind, d.subject, d.a, d.severity) for d in report.differences] == [
        ("not_readable", "scram", "CLUSTER_AUTHORIZATION_FAILED (31)", WARNING),
        ("scram_credential_missing_on_target", "User:erin SCRAM-SHA-256", "logged in through the proxy", BLOCKING)]
    assert report.seen_principals == ("User:erin", "User:fay")


def test_while_a_s_scram_list_reads_it_is_the_truth_for_seen_logins() -> None:
    # gus logged in once, then was deleted on A: A no longer grants him, so B lacking him is no gap
    report = compare_governance(snapshot("A"), snapshot("B"), TOPICS, (), {"User:gus": {"SCRAM-SHA-512"}})
    assert report.differences == () and report.principals == ("User:gus",)


def test_principals_seen_at_a_terminating_listener_or_with_plain_are_listed_only() -> None:
    report = compare_governance(snapshot("A"), snapshot("B"), TOPICS, ["User:hal", "User:ivy"], {})
    assert report.differences == ()
    assert report.to_dict()["seen_principals"] == ["User:hal", "User:ivy"]


def test_the_report_is_a_plain_json_record() -> None:
    report = compare_governance(snapshot("A", {allow("User:alice")}), snapshot("B"), TOPICS)
    record = json.loads(json.dumps(report.to_dict()))
    assert record["blocking"] == 1 and record["differences"][0]["severity"] == BLOCKING
    assert record["source"] == "A" and record["topics"] == ["orders", "payments"]


BINDINGS = st.builds(allow, st.sampled_from(["User:alice", "User:bob"]), st.sampled_from(["orders", "payments"]),
                     operation=st.sampled_from(["READ", "WRITE"]), permission=st.sampled_from(["ALLOW", "DENY"]))


@given(st.sets(BINDINGS), st.sets(BINDINGS))
def test_blocking_exactly_when_b_lacks_a_binding_of_a_or_adds_a_deny(in_a: set[AclBinding],
                                                                      in_b: set[AclBinding]) -> None:
    report = compare_governance(snapshot("A", in_a), snapshot("B", in_b), TOPICS, ["User:alice", "User:bob"])
    expected = bool(in_a - in_b) or any(x.permission == "DENY" for x in in_b - in_a)
    assert bool(report.blocking) == expected
    assert len(report.differences) == len(in_a ^ in_b)


@given(st.sets(BINDINGS))
def test_a_cluster_compared_with_itself_has_no_difference(bindings: set[AclBinding]) -> None:
    same = snapshot("A", bindings)
    assert compare_governance(same, same, TOPICS).differences == ()
