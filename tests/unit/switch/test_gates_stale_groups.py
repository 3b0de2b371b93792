"""Groups that stopped long before the end: carried over without skipping a record."""

from __future__ import annotations

from proxy.switch.gates import check_partition
from proxy.switch.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress

PROGRESS = PartitionProgress(topic="t", partition=0, source_end_offset=5000, source_last_data_offset=4999,
                             mirrored_upto=4999, target_end_offset=5000, exact_sync=(4999, 4999),
                             syncs=((4990, 4990), (4999, 4999)))
NO_SYNCS = PartitionProgress(topic="t", partition=0, source_end_offset=5000, source_last_data_offset=4999,
                             mirrored_upto=4999, target_end_offset=5000)


def offsets(on_target: int | None) -> tuple[GroupOffsets, GroupPartitionOffsets]:
    partition = GroupPartitionOffsets(topic="t", partition=0, committed_on_source=10, on_target=on_target)
    return GroupOffsets(group="stale", members=0, partitions=(partition,)), partition


def test_a_group_older_than_every_sync_is_written_where_nothing_can_be_skipped() -> None:
    group, partition = offsets(on_target=None)
    check = check_partition(group, partition, PROGRESS, settling=False)
    assert (check.status, check.expected) == ("missing", 10)


def test_without_any_sync_an_offset_mm2_already_wrote_is_accepted() -> None:
    group, partition = offsets(on_target=7)
    assert check_partition(group, partition, NO_SYNCS, settling=False).status == "ok"


def test_without_any_sync_and_nothing_on_the_target_it_is_untranslatable() -> None:
    group, partition = offsets(on_target=None)
    assert check_partition(group, partition, NO_SYNCS, settling=False).status == "untranslatable"
