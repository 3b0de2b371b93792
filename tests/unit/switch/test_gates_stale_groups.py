"""A group older than every kept sync is fine when MM2's own group sync already wrote its offset."""

from __future__ import annotations

from proxy.switch.gates import check_partition
from proxy.switch.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress

PROGRESS = PartitionProgress(topic="t", partition=0, source_end_offset=5000, source_last_data_offset=4999,
                             mirrored_upto=4999, target_end_offset=5000, exact_sync=(4999, 4999),
                             syncs=((4990, 4990), (4999, 4999)))


def offsets(on_target: int | None) -> tuple[GroupOffsets, GroupPartitionOffsets]:
    partition = GroupPartitionOffsets(topic="t", partition=0, committed_on_source=10, on_target=on_target)
    return GroupOffsets(group="stale", members=0, partitions=(partition,)), partition


def test_a_stale_group_already_synced_by_mm2_passes() -> None:
    group, partition = offsets(on_target=10)
    assert check_partition(group, partition, PROGRESS, settling=False).status == "ok"


def test_a_stale_group_missing_on_the_target_is_untranslatable() -> None:
    group, partition = offsets(on_target=None)
    check = check_partition(group, partition, PROGRESS, settling=False)
    assert check.status == "untranslatable" and check.expected is None
