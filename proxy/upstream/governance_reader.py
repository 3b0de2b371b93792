"""Reads one cluster's governance (ACLs, SCRAM users, topic configs, partitions, quotas) for the gate.

Each section is read on its own through the proxy's own `KafkaConnection` (via `ClusterAdmin`);
a section the cluster will not show (no authorizer: SECURITY_DISABLED 54; not allowed:
CLUSTER_AUTHORIZATION_FAILED 31; unreachable) becomes "not readable" evidence in the snapshot, never
an exception: the comparison then says what it could not compare. The wire codes of Kafka's ACL
enums are translated to their names here so the pure comparison speaks Kafka's vocabulary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import construct as cs

from protocol.messages import describe_acls, describe_client_quotas, describe_configs, describe_user_scram_credentials
from proxy.switch.machine.governance import MATTERING_TOPIC_CONFIGS, AclBinding, GovernanceSnapshot
from proxy.upstream.cluster_admin import AdminError, ClusterAdmin, is_replicated_topic

ANY, TOPIC_RESOURCE = 1, 2
RESOURCE_TYPES = {2: "TOPIC", 3: "GROUP", 4: "CLUSTER", 5: "TRANSACTIONAL_ID", 6: "DELEGATION_TOKEN", 7: "USER"}
PATTERN_TYPES = {3: "LITERAL", 4: "PREFIXED"}
OPERATIONS = {2: "ALL", 3: "READ", 4: "WRITE", 5: "CREATE", 6: "DELETE", 7: "ALTER", 8: "DESCRIBE",
              9: "CLUSTER_ACTION", 10: "DESCRIBE_CONFIGS", 11: "ALTER_CONFIGS", 12: "IDEMPOTENT_WRITE",
              13: "CREATE_TOKENS", 14: "DESCRIBE_TOKENS", 15: "TWO_PHASE_COMMIT"}
PERMISSIONS = {2: "DENY", 3: "ALLOW"}
SCRAM_MECHANISMS = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}
ERROR_NAMES = {31: "CLUSTER_AUTHORIZATION_FAILED", 54: "SECURITY_DISABLED", 29: "TOPIC_AUTHORIZATION_FAILED",
               35: "UNSUPPORTED_VERSION"}
ALL_ACLS = {"ResourceTypeFilter": ANY, "ResourceNameFilter": None, "PatternTypeFilter": ANY,
            "PrincipalFilter": None, "HostFilter": None, "Operation": ANY, "PermissionType": ANY}


class SectionUnreadable(Exception):
    """The cluster answered, but will not show this section (an error code, named)."""


def _check(code: int, message: str | None, what: str) -> None:
    if code != 0:
        name = ERROR_NAMES.get(code, "error")
        raise SectionUnreadable(f"{what}: {name} ({code}){': ' + message if message else ''}")


async def read_governance(admin: ClusterAdmin, topics: Iterable[str] | None = None) -> GovernanceSnapshot:
    """Every section of one cluster; `topics` None means every replicated topic the cluster has."""
    unreadable: dict[str, str] = {}

    async def section(name: str, read: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await read()
        except (AdminError, SectionUnreadable) as exc:
            unreadable[name] = str(exc)
        except Exception as exc:  # a codec or broker surprise must not stop a switch: it is evidence
            unreadable[name] = f"read failed: {exc!r}"
        return None

    partitions = await section("partitions", lambda: _partition_counts(admin))
    wanted = sorted(topics if topics is not None else (partitions or {}))
    acls = await section("acls", lambda: _acls(admin))
    scram = await section("scram", lambda: _scram(admin))
    configs = await section("topic_configs", lambda: _topic_configs(admin, wanted))
    quotas = await section("quotas", lambda: _quotas(admin))
    return GovernanceSnapshot(admin.name, acls, scram, configs, partitions, quotas, unreadable)


async def _partition_counts(admin: ClusterAdmin) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (topic, _), info in (await admin.partitions()).items():
        if is_replicated_topic(topic, info.internal):
            counts[topic] = counts.get(topic, 0) + 1
    return counts


async def _acls(admin: ClusterAdmin) -> frozenset[AclBinding]:
    response = await admin.request(describe_acls, ALL_ACLS)
    _check(response.ErrorCode, response.ErrorMessage, "DescribeAcls")
    return frozenset(acl_bindings(response))


def acl_bindings(response: cs.Container) -> list[AclBinding]:
    """The bindings of a DescribeAcls response, enum codes as names (unknown codes as `code-N`)."""
    return [AclBinding(RESOURCE_TYPES.get(r.ResourceType, f"code-{r.ResourceType}"), r.ResourceName,
                       PATTERN_TYPES.get(r.PatternType, f"code-{r.PatternType}"), acl.Principal, acl.Host,
                       OPERATIONS.get(acl.Operation, f"code-{acl.Operation}"),
                       PERMISSIONS.get(acl.PermissionType, f"code-{acl.PermissionType}"))
            for r in response.Resources for acl in r.Acls]


async def _scram(admin: ClusterAdmin) -> dict[str, dict[str, int]]:
    """Every SCRAM user. An empty list asks for all, as null does; but a broker (4.4) that refuses a
    null list (no Describe on the cluster) fails building its error answer and never replies, so
    the gate would wait out its budget instead of reading CLUSTER_AUTHORIZATION_FAILED."""
    response = await admin.request(describe_user_scram_credentials, {"Users": []})
    _check(response.ErrorCode, response.ErrorMessage, "DescribeUserScramCredentials")
    return scram_users(response)


def scram_users(response: cs.Container) -> dict[str, dict[str, int]]:
    """user -> {mechanism: iterations}; a user with its own error code is left out (not a credential)."""
    return {result.User: {SCRAM_MECHANISMS.get(c.Mechanism, f"code-{c.Mechanism}"): int(c.Iterations)
                          for c in result.CredentialInfos}
            for result in response.Results if result.ErrorCode == 0}


async def _topic_configs(admin: ClusterAdmin, topics: list[str]) -> dict[str, dict[str, str | None]]:
    if not topics:
        return {}
    body = {"Resources": [{"ResourceType": TOPIC_RESOURCE, "ResourceName": topic,
                           "ConfigurationKeys": list(MATTERING_TOPIC_CONFIGS)} for topic in topics],
            "IncludeSynonyms": False, "IncludeDocumentation": False}
    response = await admin.request(describe_configs, body)
    out: dict[str, dict[str, str | None]] = {}
    for result in response.Results:
        if result.ErrorCode == 0:  # a topic missing on this side shows as a partition difference
            out[result.ResourceName] = {c.Name: c.Value for c in result.Configs}
    return out


async def _quotas(admin: ClusterAdmin) -> dict[str, dict[str, float]]:
    response = await admin.request(describe_client_quotas, {"Components": [], "Strict": False})
    _check(response.ErrorCode, response.ErrorMessage, "DescribeClientQuotas")
    return client_quotas(response)


def client_quotas(response: cs.Container) -> dict[str, dict[str, float]]:
    """`user=alice,client-id=<default>` -> {quota key: value}."""
    out: dict[str, dict[str, float]] = {}
    for entry in response.Entries or ():
        label = ",".join(f"{e.EntityType}={'<default>' if e.EntityName is None else e.EntityName}"
                         for e in sorted(entry.Entity, key=lambda e: str(e.EntityType)))
        out[label] = {v.Key: float(v.Value) for v in entry.Values}
    return out
