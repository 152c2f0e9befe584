"""Send markers: loss, duplicates and reorders per sender on a target without seq."""

from __future__ import annotations

from loadtests.targets.markers import Marker, MarkerTracker, missing_tails, parse_marker


def marker(user: str, counter: int) -> Marker:
    return Marker(run_id="r1", user=user, counter=counter, sent_ms=1000 + counter)


def test_marker_round_trip_and_other_runs_ignored() -> None:
    m = marker("u7", 3)
    assert parse_marker(f"hello {m.text()} world", run_id="r1") == m
    assert parse_marker(m.text(), run_id="r2") is None
    assert parse_marker("no marker", run_id="r1") is None and parse_marker(5, run_id="r1") is None


def test_tracker_counts_gaps_duplicates_and_reorders_per_sender() -> None:
    tracker = MarkerTracker()
    counts = [tracker.observe(marker(u, c)) for u, c in
              [("a", 4), ("b", 1), ("a", 5), ("a", 7), ("b", 2), ("a", 6), ("a", 6)]]
    assert sum(c.fresh for c in counts) == 6
    assert sum(c.lost for c in counts) == 0  # a:6 was lost, then came late
    assert sum(c.reordered for c in counts) == 1
    assert sum(c.duplicated for c in counts) == 1
    assert tracker.highest() == {"a": 7, "b": 2}


def test_a_gap_that_never_fills_is_lost() -> None:
    tracker = MarkerTracker()
    lost = sum(tracker.observe(marker("a", c)).lost for c in (1, 2, 5))
    assert lost == 2


def test_missing_tails_count_acknowledged_messages_never_seen() -> None:
    assert missing_tails(acknowledged={"a": 9, "b": 3, "c": 4}, seen={"a": 7, "b": 3}) == 2
