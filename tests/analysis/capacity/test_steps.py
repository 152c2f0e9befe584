"""Step cutting and the stopping rule, driven by a fake clock (no swarm, no Redis)."""

from __future__ import annotations

import pytest

from analysis.capacity.ramp import RampPlan
from analysis.capacity.steps import (
    PROCESS_POLLS_PREFIX,
    StepFigures,
    StepTracker,
    StepWindow,
    step_figures,
)

PLAN = RampPlan(start=10, step=10, max_users=30, hold_s=10.0, spawn_rate=10.0)


class FakeClock:
    """Epoch ms that only moves when the test says so."""

    def __init__(self) -> None:
        self.now_ms = 1_800_000_000_000.0

    def __call__(self) -> float:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += seconds * 1000.0


def feed(tracker: StepTracker, users: int, counters: dict[str, float]) -> StepWindow | None:
    """What the runner does: counters only at a boundary."""
    if not tracker.needs_counters(users=users):
        return None
    return tracker.observe(users=users, counters=counters)


def test_steps_are_cut_at_live_count_changes_with_counter_deltas() -> None:
    clock = FakeClock()
    tracker = StepTracker(plan=PLAN, clock_ms=clock, warmup_fraction=0.25)
    assert not tracker.needs_counters(users=3)  # spawning towards 10: not a planned count
    assert feed(tracker, 10, {"requests": 5.0}) is None  # opens the first step
    clock.advance(10)
    assert not tracker.needs_counters(users=10)
    closed = feed(tracker, 20, {"requests": 105.0})
    assert closed is not None
    assert (closed.users, closed.end_ms - closed.start_ms) == (10, 10_000)
    assert closed.steady_start_ms == closed.start_ms + 2_500
    assert closed.counts == {"requests": 100.0}
    clock.advance(8)
    tracker.finish(counters={"requests": 305.0})
    assert [w.users for w in tracker.windows] == [10, 20]
    assert tracker.rows()[1] == {
        "users": 20,
        "start_ms": int(closed.end_ms),
        "end_ms": int(closed.end_ms) + 8000,
        "requests": 200.0,
    }


def test_a_count_held_briefly_is_a_transient_not_a_step() -> None:
    clock = FakeClock()
    tracker = StepTracker(plan=PLAN, clock_ms=clock, min_step_ms=2000)
    feed(tracker, 10, {})
    clock.advance(1.5)
    assert feed(tracker, 20, {}) is None  # 10 users for 1.5 s: dropped
    clock.advance(5)
    assert feed(tracker, 30, {}) is not None
    assert [w.users for w in tracker.windows] == [20]


def test_an_unplanned_count_closes_the_step_without_opening_one() -> None:
    clock = FakeClock()
    tracker = StepTracker(plan=PLAN, clock_ms=clock)
    feed(tracker, 10, {})
    clock.advance(10)
    assert feed(tracker, 14, {}) is not None  # ramping between steps
    assert not tracker.needs_counters(users=17)
    assert tracker.finish(counters={}) is None  # nothing open


def test_the_stopping_rule_sees_every_judged_step() -> None:
    tracker = StepTracker(plan=PLAN, clock_ms=FakeClock(), slo_p95_ms=3000)
    assert (
        tracker.judge(StepFigures(requests_per_s=100, error_rate=0, delivery_p95_ms=1000)) is None
    )
    assert (
        tracker.judge(StepFigures(requests_per_s=190, error_rate=0, delivery_p95_ms=1200)) is None
    )
    reason = tracker.judge(StepFigures(requests_per_s=150, error_rate=0, delivery_p95_ms=1500))
    assert reason is not None and "fell to 150" in reason and tracker.stop_reason == reason
    slow = StepTracker(plan=PLAN, clock_ms=FakeClock(), slo_p95_ms=1000)
    assert "p95 delivery" in (slow.judge(StepFigures(10, 0.0, 3500.0)) or "")


def test_step_figures_rate_over_the_steady_part_errors_over_the_step() -> None:
    window = StepWindow(
        users=10,
        start_ms=0.0,
        end_ms=8000.0,
        steady_start_ms=2000.0,
        counts={"requests": 200.0, "failures": 20.0},
    )
    figures = step_figures(window, polls=60, delivery_p95_ms=None)
    assert figures.requests_per_s == pytest.approx(10.0)  # 60 polls in 6 s
    assert figures.error_rate == pytest.approx(0.1)
    empty = StepWindow(users=10, start_ms=0.0, end_ms=8000.0, steady_start_ms=2000.0, counts={})
    assert step_figures(empty, polls=0, delivery_p95_ms=None).error_rate == 0.0


def test_each_processs_polls_per_step_stay_out_of_the_steps_table() -> None:
    """A distributed run: the workers' shares of a step, apart from steps.csv's counts."""
    clock = FakeClock()
    tracker = StepTracker(plan=PLAN, clock_ms=clock)
    share = PROCESS_POLLS_PREFIX
    feed(tracker, 10, {"requests": 0.0, f"{share}a-1": 2.0, f"{share}b-2": 0.0})
    clock.advance(10)
    feed(tracker, 20, {"requests": 50.0, f"{share}a-1": 32.0, f"{share}b-2": 20.0})
    (row,) = tracker.rows()
    assert row == {"users": 10, "start_ms": int(clock.now_ms - 10_000),
                   "end_ms": int(clock.now_ms), "requests": 50.0}
    assert tracker.process_rows() == [
        {"users": 10, "process": "a-1", "polls": 30, "polls_per_s": 3.0},
        {"users": 10, "process": "b-2", "polls": 20, "polls_per_s": 2.0},
    ]
