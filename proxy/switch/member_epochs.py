"""KIP-848 members that bring a member epoch from the cluster they were on before the flip.

A `group.protocol=consumer` member keeps its member id and epoch across the reconnect the switch
forces, so its first ConsumerGroupHeartbeat on the target carries an epoch the target never issued.
Kafka 4.4's coordinator answers it (`GroupMetadataManager.getOrMaybeCreateConsumerGroup`, which
creates or converts a group only for epoch 0):

    target has ...                                   answer to MemberEpoch > 0
    no group                                         GROUP_ID_NOT_FOUND "Consumer group g not found."
    a classic group (MirrorMaker's offset sync or    GROUP_ID_NOT_FOUND "Group g is not a consumer group"
      the switch's translated OffsetCommit with
      generation -1 created it: a "simple" group)
    a consumer group without this member             UNKNOWN_MEMBER_ID
    this member at another epoch                     FENCED_MEMBER_EPOCH

Java (`AbstractHeartbeatRequestManager.onErrorResponse`) and librdkafka
(`rd_kafka_cgrp_handle_ConsumerGroupHeartbeat`) both rejoin at epoch 0 on UNKNOWN_MEMBER_ID and
FENCED_MEMBER_EPOCH (giving up the assignment as lost), and both treat GROUP_ID_NOT_FOUND as fatal:
the consumer dies. Yet the first two rows mean exactly what the last two do: this cluster never
knew you. So after a switch the proxy answers GROUP_ID_NOT_FOUND to a member at epoch > 0 as
FENCED_MEMBER_EPOCH; the rejoin at epoch 0 then creates the group on the target, or replaces the
empty classic one with a consumer group (`maybeDeleteEmptyClassicGroup`: whatever
`group.consumer.migration.policy` says; the committed offsets stay), and the member resumes at the
group's committed offsets there, which the switch translated.

Leaving members (epoch -1, -2) and joining ones (epoch 0) are never rewritten: for them the
coordinator's answer is the truth (librdkafka expects GROUP_ID_NOT_FOUND while it leaves).

A commit made with the source's epoch carries the source's positions, so it must not land on the
target, and it loses nothing when refused: the switch wrote the group's translated offsets to the
target before the flip. The target refuses it by itself: UNKNOWN_MEMBER_ID from the classic
offsets-only group, UNKNOWN_MEMBER_ID or STALE_MEMBER_EPOCH once the group is a consumer group, and
GROUP_ID_NOT_FOUND (OffsetCommit v9+) only when it has no group at all. That last one is the one
no client expects: Java's commitSync throws a bare KafkaException ("Unexpected error in commit")
instead of the CommitFailedException applications handle. The proxy answers it as
UNKNOWN_MEMBER_ID: Java throws CommitFailedException, librdkafka fails the commit and hurries its
next heartbeat, which the rule above turns into the rejoin. A commit with generation -1 never gets
GROUP_ID_NOT_FOUND (the coordinator creates a simple group for it), so the answer alone suffices.
"""

from __future__ import annotations

from typing import Any

UNKNOWN_MEMBER_ID = 25
GROUP_ID_NOT_FOUND = 69
FENCED_MEMBER_EPOCH = 110
FIRST_MEMBER_EPOCH_COMMIT = 9  # OffsetCommit v9: GenerationIdOrMemberEpoch, GROUP_ID_NOT_FOUND
_GROUP_ID_NOT_FOUND_BYTES = GROUP_ID_NOT_FOUND.to_bytes(2, "big")

FENCED_MESSAGE = ("the member epoch was issued by the cluster before the switch; rejoin with epoch 0 "
                  "(kafka-failover-proxy, upstream said: {})")


def brings_foreign_epoch(member_epoch: int) -> bool:
    """A heartbeat whose answer may need the rewrite: a member that believes it is in the group."""
    return member_epoch > 0


def fence_unknown_group(response: Any) -> bool:
    """Turn a ConsumerGroupHeartbeat answer of GROUP_ID_NOT_FOUND into FENCED_MEMBER_EPOCH, in place.

    True when it changed the answer (the caller re-encodes it)."""
    if response.ErrorCode != GROUP_ID_NOT_FOUND:
        return False
    response.ErrorCode = FENCED_MEMBER_EPOCH
    response.ErrorMessage = FENCED_MESSAGE.format(response.get("ErrorMessage") or "GROUP_ID_NOT_FOUND")
    return True


def may_refuse_unknown_group(framed: bytes) -> bool:
    """A cheap filter before decoding an OffsetCommit answer (size and correlation id first): could
    any partition error be 69?"""
    return framed.find(_GROUP_ID_NOT_FOUND_BYTES, 8) >= 0


def unknown_member_for_unknown_group(response: Any) -> bool:
    """OffsetCommit partitions refused with GROUP_ID_NOT_FOUND get UNKNOWN_MEMBER_ID, in place."""
    changed = False
    for topic in response.Topics:
        for partition in topic.Partitions:
            if partition.ErrorCode == GROUP_ID_NOT_FOUND:
                partition.ErrorCode = UNKNOWN_MEMBER_ID
                changed = True
    return changed
