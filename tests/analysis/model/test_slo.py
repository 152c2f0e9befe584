"""SLO capacity on step tables with known answers."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import pytest

from analysis.model.slo import slo_capacity

Rows = Callable[..., pd.DataFrame]  # the step_rows fixture (conftest)


def test_p95_crossing_is_interpolated_between_steps(step_rows: Rows) -> None:
    # p95 = 1000 + 2 * users: crosses 3000 ms at exactly 1000 users
    users = [200, 400, 600, 800, 1200, 1400]
    cap = slo_capacity(step_rows(users, [1000 + 2 * u for u in users]), slo_p95_ms=3000)
    assert (cap.status, cap.users, cap.limited_by) == ("interpolated", 1000, "p95 delivery")
    assert (cap.last_pass_users, cap.first_fail_users) == (800, 1200)


def test_error_rate_can_be_the_limit(step_rows: Rows) -> None:
    users = [100, 200, 300, 400]
    cap = slo_capacity(step_rows(users, [500, 600, 700, 800], [0, 0.0, 0.005, 0.025]))
    # 0.5% at 300, 2.5% at 400: 1% is crossed at 325 users
    assert (cap.status, cap.users, cap.limited_by) == ("interpolated", 325, "error rate")


def test_first_failure_counts_even_if_a_later_step_passes_again(step_rows: Rows) -> None:
    cap = slo_capacity(step_rows([100, 200, 300, 400], [1000, 4000, 2000, 2500]), slo_p95_ms=3000)
    assert cap.first_fail_users == 200 and cap.users == pytest.approx(166)


def test_never_exceeded_is_a_lower_bound(step_rows: Rows) -> None:
    cap = slo_capacity(step_rows([100, 200, 300], [900, 1000, 1100]))
    assert (cap.status, cap.users) == ("never_exceeded", 300)
    assert "at least 300" in cap.message


def test_never_met_says_so(step_rows: Rows) -> None:
    cap = slo_capacity(step_rows([100, 200], [5000, 6000]))
    assert (cap.status, cap.users, cap.limited_by) == ("never_met", None, "p95 delivery")
    assert "not met even at the first step (100 users)" in cap.message


def test_steps_without_delivery_samples_are_ignored_unless_they_err(step_rows: Rows) -> None:
    cap = slo_capacity(step_rows([100, 200, 300], [math.nan, 1000, 1200]))
    assert (cap.status, cap.users) == ("never_exceeded", 300)
    assert "100 users: no delivery samples, ignored" in cap.message
    # nothing delivered because everything failed: that step fails on errors
    cap = slo_capacity(step_rows([100, 200, 300], [1000, 1200, math.nan], [0, 0, 0.5]))
    assert (cap.status, cap.first_fail_users, cap.limited_by) == ("interpolated", 300, "error rate")
    assert slo_capacity(step_rows([100], [math.nan])).message.startswith("No step has delivery")


def test_users_short_of_their_poll_schedule_break_the_slo(step_rows: Rows) -> None:
    """p95 and errors hold at every step, but at 800 users the polls thinned to 81 %."""
    users = [200, 400, 600, 800]
    table = step_rows(users, [900, 950, 1000, 1100]).assign(
        schedule_shortfall=[0.0, 0.01, 0.03, 0.19])
    cap = slo_capacity(table, slo_p95_ms=3000)
    assert (cap.status, cap.limited_by) == ("interpolated", "poll schedule")
    assert (cap.last_pass_users, cap.first_fail_users) == (600, 800)
    assert cap.users == 625  # 3 % -> 19 %: 5 % is crossed an eighth of the way
    unjudged = table.assign(schedule_shortfall=[math.nan] * 4)  # adaptive policy, no interval
    assert slo_capacity(unjudged, slo_p95_ms=3000).status == "never_exceeded"
