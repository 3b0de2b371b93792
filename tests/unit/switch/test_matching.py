"""Proving a group's position on the target by comparing records: exact when proven, never a guess."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proxy.switch.machine.matching import align_tails, resume_offset

Log = list[tuple[int, object]]


def source_log(contents: list[str], gaps: list[int]) -> Log:
    """Committed data records at increasing offsets; a gap stands for markers or aborted records."""
    log, offset = [], 0
    for content, gap in zip(contents, gaps, strict=False):
        offset += gap
        log.append((offset, content))
        offset += 1
    return log


def mirrored(source: Log, prefix: int = 0) -> Log:
    """MM2's copy: every data record in order at contiguous offsets, after `prefix` older records."""
    older = [(i, ("older", i)) for i in range(prefix)]
    return older + [(prefix + i, content) for i, (_, content) in enumerate(source)]


contents = st.lists(st.text(min_size=0, max_size=3), min_size=1, max_size=30)
gaps = st.lists(st.integers(0, 3), min_size=30, max_size=30)


@given(contents, gaps, st.integers(0, 5), st.data())
def test_a_faithful_copy_maps_every_record_to_its_copy(values: list[str], holes: list[int], prefix: int,
                                                        data: st.DataObject) -> None:
    full = source_log(values, holes)
    start = data.draw(st.integers(0, len(full) - 1))
    source, target = full[start:], mirrored(full, prefix)
    mapping = align_tails(source, target)
    assert mapping == {offset: prefix + start + i for i, (offset, _) in enumerate(source)}


@given(contents, gaps, st.data())
def test_a_group_resumes_at_the_copy_of_its_next_record(values: list[str], holes: list[int],
                                                        data: st.DataObject) -> None:
    source = source_log(values, holes)
    target = mirrored(source, prefix=3)
    mapping = align_tails(source, target)
    assert mapping is not None
    committed = data.draw(st.integers(0, source[-1][0] + 3))
    unread = [content for offset, content in source if offset >= committed]
    resumed = resume_offset(committed, mapping, [offset for offset, _ in source])
    assert [content for offset, content in target if offset >= resumed] == unread


@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=30, unique=True), st.data())
def test_a_record_missing_or_duplicated_on_the_target_refuses_the_proof(values: list[int],
                                                                        data: st.DataObject) -> None:
    source = source_log([str(v) for v in values], [0] * len(values))
    target = mirrored(source)
    at = data.draw(st.integers(1, len(target) - 1))
    missing = target[:at] + [(o, c) for o, c in target[at + 1:]]
    duplicated = target[:at + 1] + [(o + 1, c) for o, c in target[at:]]
    assert align_tails(source, missing) is None
    assert align_tails(source, duplicated) is None


def test_a_target_shorter_than_the_source_run_or_an_empty_run_proves_nothing() -> None:
    assert align_tails([(5, "a"), (6, "b")], [(0, "b")]) is None
    assert align_tails([], [(0, "a")]) is None


def test_a_group_that_read_everything_resumes_after_the_last_copy() -> None:
    source = [(7, "x"), (9, "y")]  # 8 is a transaction marker, 10 and 11 too
    mapping = align_tails(source, [(0, "w"), (1, "x"), (2, "y")])
    assert mapping is not None
    assert resume_offset(12, mapping, [7, 9]) == 3
    assert resume_offset(8, mapping, [7, 9]) == 2
