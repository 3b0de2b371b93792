"""Groups that stopped long before the end: proven exact, or carried over without skipping a record."""

from __future__ import annotations

from proxy.switch.machine.gates import check_partition
from proxy.switch.machine.progress import GroupOffsets, GroupPartitionOffsets, PartitionProgress

PROGRESS = PartitionProgress(topic="t", partition=0, source_end_offset=5000, source_last_data_offset=4999,
                             mirrored_upto=4999, target_end_offset=5000, exact_sync=(4999, 4999),
                             syncs=((4990, 4990), (4999, 4999)))
NO_SYNCS = PartitionProgress(topic="t", partition=0, source_end_offset=5000, source_last_data_offset=4999,
                             mirrored_upto=4999, target_end_offset=5000)


def offsets(on_target: int | None) -> tuple[GroupOffsets, GroupPartitionOffsets]:
    partition = GroupPartitionOffsets(topic="t", partition=0, committed_on_source=10, on_target=on_target)
    return GroupOffsets(group="stale", members=0, partitions=(partition,)), partition


def test_a_group_older_than_every_sync_is_inexact_and_names_its_replay_bound() -> None:
    group, partition = offsets(on_target=None)
    check = check_partition(group, partition, PROGRESS, settling=False)
    assert (check.status, check.expected, check.exact, check.replay_bound) == ("inexact", 10, False, 4980)


def test_accepting_the_replay_writes_it_where_nothing_can_be_skipped() -> None:
    group, partition = offsets(on_target=None)
    check = check_partition(group, partition, PROGRESS, settling=False, accept_replay=True)
    assert (check.status, check.expected, check.replay_bound) == ("missing", 10, 4980)


def test_a_position_proven_by_comparing_records_is_exact_without_any_sync() -> None:
    group, _ = offsets(on_target=None)
    proven = GroupPartitionOffsets(topic="t", partition=0, committed_on_source=10, on_target=None, proven=12)
    check = check_partition(group, proven, NO_SYNCS, settling=False)
    assert (check.status, check.expected, check.exact) == ("missing", 12, True)


def test_without_any_sync_an_offset_mm2_already_wrote_is_accepted() -> None:
    group, partition = offsets(on_target=7)
    assert check_partition(group, partition, NO_SYNCS, settling=False).status == "ok"


def test_without_any_sync_and_nothing_on_the_target_it_is_untranslatable() -> None:
    group, partition = offsets(on_target=None)
    assert check_partition(group, partition, NO_SYNCS, settling=False).status == "untranslatable"
