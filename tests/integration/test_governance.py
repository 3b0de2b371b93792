"""The governance reader and comparison against real Kafka 4.4 brokers with the StandardAuthorizer.

One module-scoped set: A and B with an authorizer (PLAINTEXT, User:ANONYMOUS a super user), C
without one (DescribeAcls answers SECURITY_DISABLED). What A grants and B lacks blocks; once the ACL
is added on B it passes; a retention.ms difference is a warning only; C's ACLs are "not readable".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from harness.cluster import Cluster, ClusterSpec, start_clusters, stop_clusters
from harness.governance import AUTHORIZER_OVERRIDES, add_scram_user, create_acls, set_topic_config, topic_read_acl
from proxy.switch.governance_check import PLANNED_BUDGET_S, read_and_compare
from proxy.switch.machine.governance import (
    BLOCKING,
    GovernanceReport,
    GovernanceSnapshot,
    compare_governance,
    governance_gate,
)
from proxy.upstream.cluster_admin import ClusterAdmin
from proxy.upstream.governance_reader import read_governance

TOPIC = "gov-orders"


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[str, Cluster]]:
    started = start_clusters([ClusterSpec("govA", (1,), AUTHORIZER_OVERRIDES),
                              ClusterSpec("govB", (11,), AUTHORIZER_OVERRIDES), ClusterSpec("govC", (21,))])
    try:
        by_name = dict(zip("ABC", started, strict=True))
        for cluster in by_name.values():
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
            for future in admin.create_topics([NewTopic(TOPIC, 2, 1)]).values():
                future.result(30)
        yield by_name
    finally:
        stop_clusters(started)


def read(cluster: Cluster, name: str) -> GovernanceSnapshot:
    async def main() -> GovernanceSnapshot:
        admin = ClusterAdmin(name, list(cluster.nodes.values()))
        try:
            return await read_governance(admin, [TOPIC])
        finally:
            await admin.close()
    return asyncio.run(main())


def test_an_acl_a_grants_blocks_until_b_has_it_and_config_gaps_only_warn(clusters: dict[str, Cluster]) -> None:
    a, b = clusters["A"].bootstrap, clusters["B"].bootstrap
    create_acls(a, [topic_read_acl("User:alice", TOPIC)])
    add_scram_user(a, "alice", "alice-secret")
    add_scram_user(b, "alice", "alice-secret")
    set_topic_config(a, TOPIC, "retention.ms", "86400000")

    report = compare_governance(read(clusters["A"], "A"), read(clusters["B"], "B"), [TOPIC])
    assert [(d.kind, d.severity) for d in report.blocking] == [("acl_missing_on_target", BLOCKING)]
    assert "User:alice READ on TOPIC literal 'gov-orders'" in report.blocking[0].subject
    assert governance_gate(report, accept_gaps=False) is not None
    assert [(d.kind, d.subject, d.a) for d in report.differences if d.severity != BLOCKING] == [
        ("topic_config_differs", "gov-orders retention.ms", "86400000")]

    create_acls(b, [topic_read_acl("User:alice", TOPIC)])
    after = compare_governance(read(clusters["A"], "A"), read(clusters["B"], "B"), [TOPIC])
    assert after.blocking == () and governance_gate(after, accept_gaps=False) is None
    assert "User:alice" in after.principals


def test_a_cluster_without_an_authorizer_is_not_readable_evidence(clusters: dict[str, Cluster]) -> None:
    c = read(clusters["C"], "C")
    assert c.acls is None and "SECURITY_DISABLED (54)" in c.unreadable["acls"]
    assert c.partitions == {TOPIC: 2}
    report = compare_governance(read(clusters["A"], "A"), c, [TOPIC])
    assert ("not_readable", "acls") in [(d.kind, d.subject) for d in report.differences]


def test_the_switch_preflight_reads_both_sides_and_blocks_on_a_scram_user_only_a_has(
        clusters: dict[str, Cluster]) -> None:
    add_scram_user(clusters["A"].bootstrap, "alice", "alice-secret")  # an upsert: same as the first test's

    async def main() -> GovernanceReport:
        a = ClusterAdmin("A", list(clusters["A"].nodes.values()))
        c = ClusterAdmin("C", list(clusters["C"].nodes.values()))
        try:
            return await read_and_compare(a, c, PLANNED_BUDGET_S)
        finally:
            await asyncio.gather(a.close(), c.close())
    report = asyncio.run(main())
    assert report.topics == (TOPIC,)
    assert ("not_readable", "acls") in [(d.kind, d.subject) for d in report.differences]
    # unreadable ACLs are only evidence, but alice's SCRAM credential is on A and not on C
    assert [(d.kind, d.subject) for d in report.blocking] == [
        ("scram_credential_missing_on_target", "User:alice SCRAM-SHA-512")]
