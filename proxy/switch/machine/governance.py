"""The governance comparison: does B keep the controls A enforces (issue 12, item 6)?

A switch to a B that lacks a principal or an ACL that A has is an outage of another kind: every
client of that principal gets authorization errors on B. A B that grants more than A is a hole, but
clients keep working. So the comparison sorts each difference by what it does to clients after the
flip:

- `blocking`: A grants and B would refuse. An ALLOW binding A has and B lacks, a DENY binding B has
  and A lacks, a SCRAM mechanism of a user A knows and B does not. Also a DENY binding A has and B
  lacks: A refuses someone B would let in, the "worse" case of the issue; the operator decides with
  the override, not the proxy by default.
- `warning`: B grants what A does not (extra ALLOW, extra SCRAM user or mechanism), topic config,
  partition count and client quota differences, and any section that could not be read on one side
  (a cluster without an authorizer answers DescribeAcls with SECURITY_DISABLED: nothing to compare).

Which ACLs count: those on the replicated topics (MM2 keeps topic names under the
IdentityReplicationPolicy, so a binding on `orders` in A must exist on `orders` in B: literal names,
prefixed patterns matching a replicated topic, and the `*` wildcard), and every GROUP,
TRANSACTIONAL_ID and CLUSTER binding, since consumers commit and transactional producers commit
through those too, whatever their principal (a binding on B for a principal A never heard of is
B granting more). Which principals count for SCRAM: every principal named in A's ACLs, every SCRAM
user of A or B, plus `seen_principals`, those that logged in through the proxy
(`proxy.dataplane.seen_principals`): a principal clients authenticate as through the proxy must have
its SCRAM credential on B too. While A's SCRAM list reads, it is the truth (a user deleted on A
since it logged in is no longer granted), and every user on it is compared already. When it cannot
be read, `seen_scram` (principal -> SCRAM mechanisms a broker of A accepted through a passthrough
listener) stands in for it: such a login proves A granted the credential, so B lacking it blocks.
A principal seen at a terminating listener needs nothing on B (the broker sees the proxy's service
principal), and a PLAIN or OAUTHBEARER login's credential is not readable through the Kafka API:
both are listed in the report's `seen_principals`, never a difference by themselves. On a plaintext
listener the proxy sees no principal, so the set is A's.

Topic configs that matter (`MATTERING_TOPIC_CONFIGS`): the issue's retention, cleanup policy,
min.insync.replicas, max message bytes and compression, plus `message.timestamp.type` (a B that
stamps LogAppendTime changes what consumers and time-based offset lookups see) and
`delete.retention.ms` (how long tombstones stay readable: a consumer rebuilding a compacted topic
on B could miss deletes).

Pure: the readers in proxy/upstream fill `GovernanceSnapshot`s; readiness (issue 13) calls
`compare_governance` too and serialises `GovernanceReport.to_dict()` as JSON.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BLOCKING = "blocking"
WARNING = "warning"
MATTERING_TOPIC_CONFIGS = ("retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas",
                           "max.message.bytes", "compression.type", "message.timestamp.type",
                           "delete.retention.ms")
CLIENT_WIDE_RESOURCES = ("GROUP", "TRANSACTIONAL_ID", "CLUSTER")
SECTIONS = ("acls", "scram", "topic_configs", "partitions", "quotas")


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """One ACL binding as DescribeAcls returns it (names, not the wire codes)."""

    resource_type: str  # TOPIC, GROUP, TRANSACTIONAL_ID, CLUSTER
    resource_name: str
    pattern_type: str  # LITERAL, PREFIXED
    principal: str  # User:alice
    host: str
    operation: str  # READ, WRITE, ALL...
    permission: str  # ALLOW, DENY

    def label(self) -> str:
        return (f"{self.permission} {self.principal} {self.operation} on {self.resource_type} "
                f"{self.pattern_type.lower()} {self.resource_name!r} from {self.host}")


@dataclass(frozen=True, slots=True)
class GovernanceSnapshot:
    """What was read from one cluster; a section is None when it could not be read (`unreadable` says why).

    scram: user -> {mechanism: iterations}; topic_configs: topic -> {name: value};
    partitions: topic -> count; quotas: entity label (`user=alice,client-id=*`) -> {key: value}.
    """

    cluster: str
    acls: frozenset[AclBinding] | None = None
    scram: Mapping[str, Mapping[str, int]] | None = None
    topic_configs: Mapping[str, Mapping[str, str | None]] | None = None
    partitions: Mapping[str, int] | None = None
    quotas: Mapping[str, Mapping[str, float]] | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GovernanceDifference:
    kind: str
    subject: str
    a: Any
    b: Any
    severity: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "a": self.a, "b": self.b, "severity": self.severity}


@dataclass(frozen=True, slots=True)
class GovernanceReport:
    """The comparison's plain record: JSON through `to_dict()`, for switch evidence and readiness."""

    source: str
    target: str
    topics: tuple[str, ...]
    principals: tuple[str, ...]
    differences: tuple[GovernanceDifference, ...]
    seen_principals: tuple[str, ...] = ()  # those of `principals` that logged in through the proxy

    @property
    def blocking(self) -> tuple[GovernanceDifference, ...]:
        return tuple(d for d in self.differences if d.severity == BLOCKING)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "topics": list(self.topics),
                "principals": list(self.principals), "seen_principals": list(self.seen_principals),
                "blocking": len(self.blocking),
                "differences": [d.to_dict() for d in self.differences]}


def compare_governance(a: GovernanceSnapshot, b: GovernanceSnapshot, topics: Iterable[str],
                       seen_principals: Iterable[str] = (),
                       seen_scram: Mapping[str, Collection[str]] | None = None) -> GovernanceReport:
    """Every difference between A and B that matters for clients of the replicated `topics` after a flip.

    `seen_principals`: who logged in through the proxy; `seen_scram`: the SCRAM mechanisms A's
    brokers accepted for them (passthrough), used when A's SCRAM list cannot be read."""
    topics = tuple(sorted(set(topics)))
    seen = tuple(sorted(set(seen_principals) | set(seen_scram or ())))
    principals = principals_to_compare(a, seen)
    differences = [*_unreadable(a, b), *_acls(a, b, topics), *_scram(a, b, principals),
                   *_seen_scram(a, b, seen_scram or {}),
                   *_topic_configs(a, b, topics), *_partitions(a, b, topics), *_quotas(a, b)]
    return GovernanceReport(a.cluster, b.cluster, topics, principals, tuple(differences), seen)


def principals_to_compare(a: GovernanceSnapshot, seen_principals: Iterable[str] = ()) -> tuple[str, ...]:
    """A's ACL principals and SCRAM users, plus those seen through the proxy (the SASL hook)."""
    named = {binding.principal for binding in a.acls or ()} | {f"User:{user}" for user in a.scram or {}}
    return tuple(sorted((named | set(seen_principals)) - {"User:*"}))


def governance_gate(report: GovernanceReport, accept_gaps: bool) -> str | None:
    """Why a planned switch or dry run must not start, or None; `accept_gaps` is the audited override."""
    if not report.blocking or accept_gaps:
        return None
    named = "; ".join(f"{d.kind} {d.subject}" for d in report.blocking[:5])
    more = f" (and {len(report.blocking) - 5} more)" if len(report.blocking) > 5 else ""
    return (f"governance gate: {report.target} lacks {len(report.blocking)} control(s) that {report.source} "
            f"enforces: {named}{more}; fix them on {report.target} or switch with accept_governance_gaps")


def _unreadable(a: GovernanceSnapshot, b: GovernanceSnapshot) -> Iterable[GovernanceDifference]:
    for section in SECTIONS:
        why_a, why_b = a.unreadable.get(section), b.unreadable.get(section)
        if why_a is not None or why_b is not None:
            yield GovernanceDifference("not_readable", section, why_a, why_b, WARNING)


def _relevant(binding: AclBinding, topics: tuple[str, ...]) -> bool:
    if binding.resource_type in CLIENT_WIDE_RESOURCES:
        return True
    if binding.resource_type != "TOPIC":
        return False
    if binding.resource_name == "*":
        return True
    if binding.pattern_type == "PREFIXED":
        return any(topic.startswith(binding.resource_name) for topic in topics)
    return binding.resource_name in topics


def _acls(a: GovernanceSnapshot, b: GovernanceSnapshot, topics: tuple[str, ...]) -> Iterable[GovernanceDifference]:
    if a.acls is None or b.acls is None:
        return
    in_a = {x for x in a.acls if _relevant(x, topics)}
    in_b = {x for x in b.acls if _relevant(x, topics)}
    for binding in sorted(in_a - in_b):
        yield GovernanceDifference("acl_missing_on_target", binding.label(), binding.permission, None, BLOCKING)
    for binding in sorted(in_b - in_a):
        severity = BLOCKING if binding.permission == "DENY" else WARNING
        yield GovernanceDifference("acl_only_on_target", binding.label(), None, binding.permission, severity)


def _scram(a: GovernanceSnapshot, b: GovernanceSnapshot, principals: tuple[str, ...]) -> Iterable[GovernanceDifference]:
    if a.scram is None or b.scram is None:
        return
    users = {p.removeprefix("User:") for p in principals if p.startswith("User:")} | set(a.scram) | set(b.scram)
    for user in sorted(users):
        mechanisms_a, mechanisms_b = dict(a.scram.get(user, {})), dict(b.scram.get(user, {}))
        for mechanism in sorted(set(mechanisms_a) | set(mechanisms_b)):
            subject = f"User:{user} {mechanism}"
            if mechanism not in mechanisms_b:
                yield GovernanceDifference("scram_credential_missing_on_target", subject,
                                           mechanisms_a[mechanism], None, BLOCKING)
            elif mechanism not in mechanisms_a:
                yield GovernanceDifference("scram_credential_only_on_target", subject,
                                           None, mechanisms_b[mechanism], WARNING)
            elif mechanisms_a[mechanism] != mechanisms_b[mechanism]:  # salts differ anyway; iterations are visible
                yield GovernanceDifference("scram_iterations_differ", subject,
                                           mechanisms_a[mechanism], mechanisms_b[mechanism], WARNING)


def _seen_scram(a: GovernanceSnapshot, b: GovernanceSnapshot,
                seen_scram: Mapping[str, Collection[str]]) -> Iterable[GovernanceDifference]:
    """A SCRAM login through the proxy stands for A's grant while A's own list cannot be read."""
    if a.scram is not None or b.scram is None:
        return
    for principal in sorted(seen_scram):
        user = principal.removeprefix("User:")
        for mechanism in sorted(set(seen_scram[principal]) - set(b.scram.get(user, {}))):
            yield GovernanceDifference("scram_credential_missing_on_target", f"{principal} {mechanism}",
                                       "logged in through the proxy", None, BLOCKING)


def _topic_configs(a: GovernanceSnapshot, b: GovernanceSnapshot,
                   topics: tuple[str, ...]) -> Iterable[GovernanceDifference]:
    if a.topic_configs is None or b.topic_configs is None:
        return
    for topic in topics:
        configs_a, configs_b = a.topic_configs.get(topic), b.topic_configs.get(topic)
        if configs_a is None or configs_b is None:
            continue  # a topic missing on one side shows under partitions
        for name in MATTERING_TOPIC_CONFIGS:
            if configs_a.get(name) != configs_b.get(name):
                yield GovernanceDifference("topic_config_differs", f"{topic} {name}",
                                           configs_a.get(name), configs_b.get(name), WARNING)


def _partitions(a: GovernanceSnapshot, b: GovernanceSnapshot,
                topics: tuple[str, ...]) -> Iterable[GovernanceDifference]:
    if a.partitions is None or b.partitions is None:
        return
    for topic in topics:
        count_a, count_b = a.partitions.get(topic), b.partitions.get(topic)
        if count_a != count_b:
            yield GovernanceDifference("partition_count_differs", topic, count_a, count_b, WARNING)


def _quotas(a: GovernanceSnapshot, b: GovernanceSnapshot) -> Iterable[GovernanceDifference]:
    if a.quotas is None or b.quotas is None:
        return
    for entity in sorted(set(a.quotas) | set(b.quotas)):
        values_a, values_b = dict(a.quotas.get(entity, {})), dict(b.quotas.get(entity, {}))
        for key in sorted(set(values_a) | set(values_b)):
            if values_a.get(key) != values_b.get(key):
                yield GovernanceDifference("client_quota_differs", f"{entity} {key}",
                                           values_a.get(key), values_b.get(key), WARNING)
