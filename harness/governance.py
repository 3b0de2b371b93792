"""Clusters with an authorizer, and the ACLs / SCRAM users / topic configs the governance tests set.

All on the PLAINTEXT listener: its principal is User:ANONYMOUS, made a super user, and
`allow.everyone.if.no.acl.found` keeps clients without ACLs working, so the harness needs neither
TLS nor SASL to exercise DescribeAcls and DescribeUserScramCredentials against a real authorizer.
"""

from __future__ import annotations

import time

from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported at run time, not in the stubs
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

AUTHORIZER_OVERRIDES = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "true",
    "super.users": "User:ANONYMOUS",
}
TIMEOUT_S = 30.0


def topic_acl(principal: str, topic: str, operation: str) -> AclBinding:
    """ALLOW `operation` (READ, WRITE, DESCRIBE, ...) on the literal topic, from any host."""
    return AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                      AclOperation[operation], AclPermissionType.ALLOW)


def topic_read_acl(principal: str, topic: str) -> AclBinding:
    return topic_acl(principal, topic, "READ")


def create_acls(bootstrap: str, bindings: list[AclBinding]) -> None:
    """Returns once every broker of `bootstrap` lists the bindings: CreateAcls answers when the
    controller committed them, a broker's authorizer learns them from the metadata log a little later."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_acls(bindings, request_timeout=TIMEOUT_S).values():
        future.result(TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    for node in admin.list_topics(timeout=TIMEOUT_S).brokers.values():
        broker = AdminClient({"bootstrap.servers": f"{node.host}:{node.port}"})
        while not all(_listed(broker, binding) for binding in bindings):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{node.host}:{node.port} does not list {bindings} after {TIMEOUT_S:.0f} s")
            time.sleep(0.1)


def cluster_describe_deny(principal: str) -> AclBinding:
    """DENY Describe on the cluster: the principal can no longer list ACLs or SCRAM users there."""
    return AclBinding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL, principal, "*",
                      AclOperation.DESCRIBE, AclPermissionType.DENY)


def delete_acls(bootstrap: str, bindings: list[AclBinding]) -> None:
    """Returns once every broker of `bootstrap` no longer lists the bindings (as `create_acls`)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                                b.permission_type) for b in bindings]
    for future in admin.delete_acls(filters, request_timeout=TIMEOUT_S).values():
        future.result(TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    for node in admin.list_topics(timeout=TIMEOUT_S).brokers.values():
        broker = AdminClient({"bootstrap.servers": f"{node.host}:{node.port}"})
        while any(_listed(broker, binding) for binding in bindings):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{node.host}:{node.port} still lists {bindings} after {TIMEOUT_S:.0f} s")
            time.sleep(0.1)


def _listed(admin: AdminClient, binding: AclBinding) -> bool:
    found = admin.describe_acls(AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type,
                                                 binding.principal, binding.host, binding.operation,
                                                 binding.permission_type), request_timeout=TIMEOUT_S)
    return bool(found.result(TIMEOUT_S))


def add_scram_user(bootstrap: str, user: str, password: str, mechanism: str = "SCRAM-SHA-512",
                   iterations: int = 4096) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    info = ScramCredentialInfo(ScramMechanism[mechanism.replace("-", "_")], iterations)
    upsert = UserScramCredentialUpsertion(user, info, password.encode())
    for future in admin.alter_user_scram_credentials([upsert], request_timeout=TIMEOUT_S).values():
        future.result(TIMEOUT_S)


def set_topic_config(bootstrap: str, topic: str, name: str, value: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic,
                              incremental_configs=[ConfigEntry(name, value,
                                                               incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(TIMEOUT_S)
