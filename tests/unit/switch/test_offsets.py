"""Offset translation with MM2's rule, mirror progress verdicts and the emergency tail."""

from __future__ import annotations

import pytest

from proxy.switch.machine.offsets import (
    copied_upto,
    emergency_tail,
    is_caught_up,
    mirror_lag,
    replay_bound,
    tail_report,
    translate_group_offset,
)
from proxy.switch.machine.progress import PartitionProgress, TailEntry

SYNCS = [(0, 0), (10, 5), (20, 15), (40, 30)]


@pytest.mark.parametrize("committed, expected", [
    (-1, None),   # no commit: nothing to carry over
    (0, 0),       # exactly a synced record
    (5, 1),       # after (0, 0): resume just after its copy
    (10, 5),
    (11, 6),
    (39, 16),     # long after (20, 15): may re-read, never skip
    (40, 30),
    (49, 31),
    (50, 40),     # read everything: the target's end
    (60, 40),
])
def test_translation_table(committed: int, expected: int | None) -> None:
    assert translate_group_offset(committed, SYNCS, source_end=50, target_end=40) == expected


@pytest.mark.parametrize("committed, bound", [
    (-1, None), (0, 0), (5, 4), (10, 0), (11, 0), (39, 18), (50, 0), (60, 0),
])
def test_replay_bound_counts_the_records_between_the_sync_and_the_group(committed: int, bound: int | None) -> None:
    assert replay_bound(committed, SYNCS, source_end=50, target_end=40) == bound


def test_before_the_first_sync_the_bound_reaches_up_to_it() -> None:
    assert replay_bound(3, [(10, 5)], source_end=50, target_end=40) == 7
    assert replay_bound(3, [], source_end=50, target_end=40) is None


def test_translation_ignores_sync_order_and_duplicates() -> None:
    shuffled = [(20, 15), (0, 0), (40, 30), (10, 5), (20, 15)]
    assert [translate_group_offset(g, shuffled, 50, 40) for g in (3, 20, 45)] == [1, 15, 31]


@pytest.mark.parametrize("committed, syncs, source_end, target_end", [
    (5, [], 50, 40),           # nothing synced yet
])
def test_untranslatable_offsets(committed: int, syncs: list[tuple[int, int]], source_end: int,
                                target_end: int) -> None:
    assert translate_group_offset(committed, syncs, source_end, target_end) is None


@pytest.mark.parametrize("committed, syncs, expected", [
    (5, [(10, 5)], 0),           # 5 offsets before the first sync's copy at 5: at most 5 records there
    (5, [(10, 8), (20, 17)], 3),
    (26, [(30, 28)], 24),
    (0, [(1000, 3)], 0),         # never below the start of the log
])
def test_older_than_every_sync_resumes_where_nothing_can_be_skipped(
        committed: int, syncs: list[tuple[int, int]], expected: int) -> None:
    assert translate_group_offset(committed, syncs, 5000, 4000) == expected


def test_unknown_end_offsets_fall_back_to_the_syncs() -> None:
    assert translate_group_offset(50, SYNCS, source_end=None, target_end=None) == 31


def progress(last: int | None = 99, mirrored: int | None = 99, exact: tuple[int, int] | None = (99, 89),
             target_end: int = 90, syncs: tuple[tuple[int, int], ...] = ()) -> PartitionProgress:
    return PartitionProgress(topic="t", partition=0, source_end_offset=102, source_last_data_offset=last,
                             mirrored_upto=mirrored, target_end_offset=target_end, exact_sync=exact, syncs=syncs)


@pytest.mark.parametrize("p, caught_up", [
    (progress(), True),
    (progress(last=None, mirrored=None, exact=None, target_end=0), True),  # no data record at all
    (progress(mirrored=98, exact=None), False),                              # MM2 one record short
    (progress(mirrored=None, exact=None), False),
    (progress(exact=None), True),                        # copied; a quiet partition may never get its sync
    (progress(mirrored=97, exact=None, syncs=((99, 89),)), True),            # a newer sync proves the copy
    (progress(exact=None, target_end=0), False),                             # the target holds nothing
    (PartitionProgress(topic="t", partition=0, source_end_offset=0, source_last_data_offset=None,
                       mirrored_upto=None, target_end_offset=0, on_target=False), False),  # not created on B yet
])
def test_caught_up_needs_the_copy_not_a_sync(p: PartitionProgress, caught_up: bool) -> None:
    assert is_caught_up(p) is caught_up


@pytest.mark.parametrize("p, lag", [
    (progress(), 0), (progress(mirrored=90), 9), (progress(mirrored=None), None),
    (progress(last=None, mirrored=None), 0),
])
def test_mirror_lag(p: PartitionProgress, lag: int | None) -> None:
    assert mirror_lag(p) == lag


@pytest.mark.parametrize("p, copied, tail", [
    (progress(), 99, 0),
    (progress(mirrored=90, exact=None, syncs=((80, 70),)), 90, 9),
    (progress(mirrored=90, exact=None, syncs=((95, 85),)), 95, 4),  # a sync proves more than MM2 committed
    (progress(mirrored=None, exact=None), None, None),                # nothing copied, log start unknown
    (progress(last=None, mirrored=None, exact=None), None, 0),        # nothing to lose
])
def test_emergency_tail_counts_from_the_newest_record_known_copied(p: PartitionProgress, copied: int | None,
                                                                   tail: int | None) -> None:
    assert (copied_upto(p), emergency_tail(p)) == (copied, tail)


def test_tail_report_lists_every_partition() -> None:
    assert tail_report([progress(mirrored=90, exact=None)]) == (
        TailEntry(topic="t", partition=0, tail=9, last_data_offset=99, copied_upto=90),)
