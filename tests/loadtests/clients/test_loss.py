"""The loss detector on clean, gapped, repeated and reordered seq streams."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadtests.clients.loss import SeqCounts, SeqTracker


def totals(seqs: list[int]) -> SeqCounts:
    return SeqTracker().observe_all(seqs)


def test_clean_stream_has_no_loss() -> None:
    counts = totals(list(range(1, 101)))
    assert (counts.fresh, counts.lost, counts.duplicated, counts.reordered) == (100, 0, 0, 0)


def test_gap_counts_each_missing_number() -> None:
    counts = totals([1, 2, 5, 6, 9])
    assert counts.lost == 4  # 3, 4, 7, 8
    assert counts.fresh == 5


def test_stream_must_start_at_first_seq() -> None:
    assert totals([3, 4]).lost == 2


def test_repeat_is_a_duplicate_not_a_delivery() -> None:
    counts = totals([1, 2, 2, 3, 1])
    assert counts.duplicated == 2
    assert counts.fresh == 3
    assert counts.lost == 0


def test_late_arrival_is_reordered_not_lost() -> None:
    counts = totals([1, 3, 2, 4])
    assert counts.lost == 0
    assert counts.reordered == 1
    assert counts.fresh == 4


def test_is_new() -> None:
    tracker = SeqTracker()
    tracker.observe_all([1, 3])
    assert tracker.is_new(2) and tracker.is_new(4)
    assert not tracker.is_new(3)


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=200))
def test_counts_add_up(seqs: list[int]) -> None:
    """fresh + duplicated = observations; lost = numbers below the top never seen."""
    counts = totals(seqs)
    assert counts.fresh + counts.duplicated == len(seqs)
    top = max(seqs, default=0)
    assert counts.lost == len(set(range(1, top + 1)) - set(seqs))
    assert counts.fresh == len(set(seqs))
