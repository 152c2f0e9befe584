"""Generator-bound steps: CPU, schedule lateness and Little's law, and the lower bound."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.model.generator import (
    capacity_is_lower_bound,
    generator_steps,
    mean_lateness_ms,
    schedule_held,
    window_means,
)


def _row(users: int, *, polls_per_s: float, req_mean_ms: float = 20.0) -> dict:
    # 20 s step, 25% warm-up: a 15 s steady window
    return {"users": users, "start_ms": 0, "end_ms": 20_000, "req_mean_ms": req_mean_ms,
            "poll_samples": polls_per_s * 15.0}


def test_a_generator_keeping_its_schedule_is_not_saturated() -> None:
    table = pd.DataFrame([_row(1000, polls_per_s=500.0)])  # 1000 users / 2 s
    step = generator_steps(table, interval_ms=2000, generator_cores=1,
                           generator_cpu_percent=[55.0], late_ms=[12.0])[0]
    assert not step.saturated and step.evidence == "kept its schedule"
    assert step.expected_polls_per_s == pytest.approx(999 / 2)  # the producer never polls
    assert step.little_ratio == pytest.approx(1.0, abs=0.002)


def test_the_notification_producer_is_not_counted_as_a_poller() -> None:
    # 6 users = 5 chat users + the run's one producer: 2.5 polls/s is the full schedule
    table = pd.DataFrame([_row(6, polls_per_s=2.5)])
    step = generator_steps(table, interval_ms=2000, generator_cores=1,
                           generator_cpu_percent=[5.0], late_ms=[3.0])[0]
    assert step.expected_polls_per_s == pytest.approx(2.5) and not step.saturated


def test_each_signal_alone_marks_the_step() -> None:
    table = pd.DataFrame([_row(1000, polls_per_s=500.0)] * 3
                         + [_row(1000, polls_per_s=400.0)])
    steps = generator_steps(table, interval_ms=2000, generator_cores=1,
                            generator_cpu_percent=[95.0, 50.0, 50.0, 50.0],
                            late_ms=[0.0, 450.0, 150.0, 0.0])
    assert [s.saturated for s in steps] == [True, True, False, True]
    assert "generator CPU 95%" in steps[0].evidence
    assert "450 ms late" in steps[1].evidence
    assert "Little's law (80%)" in steps[3].evidence


def test_a_slow_service_is_not_blamed_on_the_generator() -> None:
    # responses of 3 s with a 2 s interval: the closed loop polls every 3 s, late by design
    table = pd.DataFrame([_row(900, polls_per_s=300.0, req_mean_ms=3000.0)])
    step = generator_steps(table, interval_ms=2000, generator_cores=1,
                           generator_cpu_percent=[40.0], late_ms=[1000.0])[0]
    assert step.expected_polls_per_s == pytest.approx(899 / 3)
    assert not step.saturated


def test_a_cpu_bound_service_is_not_blamed_on_the_generator() -> None:
    row = {**_row(1000, polls_per_s=400.0), "cpu_percent": 96.0}
    step = generator_steps(pd.DataFrame([row]), interval_ms=2000, generator_cores=1,
                           generator_cpu_percent=[50.0], late_ms=[450.0])[0]
    assert not step.saturated  # late and short of Little's law, but the service is at 96%
    on_two = generator_steps(pd.DataFrame([row]), interval_ms=2000, generator_cores=1,
                             service_cores=2, generator_cpu_percent=[50.0], late_ms=[450.0])[0]
    assert on_two.saturated  # 96% of two cores is not busy


def test_two_processes_double_the_cpu_limit_and_missing_signals_are_nan() -> None:
    table = pd.DataFrame([_row(100, polls_per_s=50.0)])
    step = generator_steps(table, interval_ms=None, generator_cores=2,
                           generator_cpu_percent=[150.0])[0]
    assert step.cpu_limit_percent == pytest.approx(180.0) and not step.saturated
    assert math.isnan(step.late_ms) and math.isnan(step.expected_polls_per_s)


def test_lateness_and_cpu_come_from_counters_and_samples() -> None:
    steps = pd.DataFrame({"users": [10, 20], "start_ms": [0, 10_000], "end_ms": [10_000, 20_000],
                          "polls": [100, 0], "poll_late_ms_sum": [2500, 0]})
    late = mean_lateness_ms(steps)
    assert late[0] == pytest.approx(25.0) and math.isnan(late[1])
    assert all(math.isnan(x) for x in mean_lateness_ms(steps.drop(columns=["polls"])))
    resources = pd.DataFrame({"t_ms": [1000, 5000, 9000, 15000, 19000],
                              "generator_cpu_percent": [100.0, 40.0, 60.0, 80.0, 90.0]})
    means = window_means(steps, resources, column="generator_cpu_percent", warmup_fraction=0.25)
    assert means == [pytest.approx(50.0), pytest.approx(85.0)]
    assert all(math.isnan(x) for x in window_means(steps, resources, column="nope",
                                                   warmup_fraction=0.25))


@pytest.mark.parametrize(("status", "fail", "last", "saturated", "expected"), [
    ("interpolated", 2000, 1500, [2000], True),
    ("interpolated", 2000, 1500, [1500], False),
    ("never_exceeded", None, 4750, [4750], True),
    ("never_exceeded", None, 4750, [], False),
    ("never_met", 250, None, [250], True),
])
def test_capacity_is_a_lower_bound_when_its_deciding_step_was_generator_bound(
        status: str, fail: int | None, last: int | None, saturated: list[int],
        expected: bool) -> None:
    assert capacity_is_lower_bound(status=status, first_fail_users=fail, last_pass_users=last,
                                   saturated_users=saturated) is expected


def test_schedule_held_marks_steps_polling_at_95_percent_of_n_over_t() -> None:
    # 2 s polls: 1000 users owe 499.5 polls/s (the producer never polls); the last step
    # polled at 86%, as a service near saturation throttles its users
    table = pd.DataFrame([_row(1000, polls_per_s=499.0), _row(2000, polls_per_s=955.0),
                          _row(2500, polls_per_s=0.86 * 1249.5)])
    held = schedule_held(table, interval_ms=2000)
    assert held is not None and held.tolist() == [True, True, False]
    assert schedule_held(table, interval_ms=None) is None  # an adaptive policy: no schedule


def test_schedule_shortfall_is_judged_only_where_it_is_the_services() -> None:
    from analysis.model.generator import with_schedule_shortfall

    # 10 s steps, warm-up 25 %: 7.5 s windows; N users polling every 2 s expect N/2 polls/s
    table = pd.DataFrame({
        "users": [11, 1001, 2001, 3001],
        "start_ms": [0, 10_000, 20_000, 30_000], "end_ms": [10_000, 20_000, 30_000, 40_000],
        "poll_samples": [20, 3750, 6000, 4000],  # 2001: 80 % of schedule
    })
    out = with_schedule_shortfall(table, interval_ms=2000, generator_bound=[3001])
    short = out["schedule_shortfall"].tolist()
    assert math.isnan(short[0])  # 37 polls expected: too few to judge
    assert short[1] == pytest.approx(0.0)
    assert short[2] == pytest.approx(0.2)
    assert math.isnan(short[3])  # the generator's shortfall, not the service's
    none = with_schedule_shortfall(table, interval_ms=None)
    assert none["schedule_shortfall"].isna().all()  # an adaptive policy: no schedule
