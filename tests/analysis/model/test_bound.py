"""The utilization law X <= cores / D caps the USL's peak; extrapolations are labelled."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.model.bound import (
    BOUND_TOLERANCE,
    bounded_peak,
    capped_throughput,
    demand_bound,
    step_demand_s,
    steps_over_bound,
    users_at_bound,
    users_at_throughput,
)
from analysis.model.usl import fit_usl, usl_throughput


def _issue_table() -> pd.DataFrame:
    """Issue 12's run: one core, 2,670 req/s at 98% CPU on the last step (4,750 users)."""
    users = np.array([250, 1250, 2250, 3250, 4250, 4750])
    rps = users * 2670.0 / 4750.0
    cpu = rps * 367e-6 * 100.0 * np.array([1.4, 1.1, 1.05, 1.02, 1.0, 1.0])
    return pd.DataFrame({"users": users, "requests_per_s": rps, "cpu_percent": cpu})


def test_demand_is_cpu_seconds_per_request() -> None:
    table = pd.DataFrame({"users": [10, 20, 30], "requests_per_s": [100.0, 0.0, 200.0],
                          "cpu_percent": [5.0, 3.0, float("nan")]})
    demand = step_demand_s(table)
    assert demand.iloc[0] == pytest.approx(0.05 / 100.0)
    assert math.isnan(demand.iloc[1]) and math.isnan(demand.iloc[2])


def test_bound_from_the_issue_run_is_about_2720_requests_per_s() -> None:
    table = _issue_table()
    bound = demand_bound(table, cores=1)
    assert bound.demand_us is not None and bound.max_requests_per_s is not None
    # the regression leans on the busy steps (D = 367 µs there, 1.4x at 250 users)
    assert 367.0 < bound.demand_us < 367.0 * 1.05
    assert 1 / 367e-6 / 1.05 < bound.max_requests_per_s < 1 / 367e-6
    # 250 users (7.7% CPU) is under the busy threshold; no single step set the bound
    assert bound.n_steps == 5 and bound.users is None
    assert bound.demand_interval_s is not None and bound.max_requests_interval is not None
    lo, hi = bound.max_requests_interval
    assert lo <= bound.max_requests_per_s <= hi
    assert "µs of CPU per request" in bound.note and "5 clean step" in bound.note
    assert steps_over_bound(table, bound=bound) == []


def test_every_measured_step_is_under_the_bound() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        users = np.sort(rng.integers(100, 5000, 6))
        rps = users * rng.uniform(0.3, 0.6)
        cpu = np.minimum(rps * rng.uniform(2e-4, 6e-4, 6) * 100.0, 100.0)
        table = pd.DataFrame({"users": users, "requests_per_s": rps, "cpu_percent": cpu})
        bound = demand_bound(table, cores=1)
        assert bound.max_requests_per_s is not None
        assert (table["requests_per_s"] <= BOUND_TOLERANCE * bound.max_requests_per_s).all()
        assert steps_over_bound(table, bound=bound) == []


def test_idle_steps_give_no_bound() -> None:
    table = pd.DataFrame({"users": [10, 20], "requests_per_s": [5.0, 10.0],
                          "cpu_percent": [1.0, 2.0]})
    bound = demand_bound(table, cores=2)
    assert bound.max_requests_per_s is None and "no bound" in bound.note
    with pytest.raises(ValueError):
        demand_bound(table, cores=0)


def test_a_usl_peak_past_the_cpu_is_capped_and_not_extrapolated_in_x() -> None:
    table = _issue_table()
    fit = fit_usl(table["users"], table["requests_per_s"])
    bound = demand_bound(table, cores=1)
    peak = bounded_peak(fit, bound=bound, max_measured_users=4750)
    assert bound.max_requests_per_s is not None
    x_peak = peak.peak_requests_per_s
    assert x_peak.bounded and x_peak.value == pytest.approx(bound.max_requests_per_s)
    assert not x_peak.extrapolated  # set by the measured demand, not by the curve
    # N at the bound by Little's law on measured rates (2670/4750 req/s per user), not the fit
    assert peak.peak_users.value == pytest.approx(bound.max_requests_per_s * 4750 / 2670)
    assert peak.peak_users.bounded and not peak.peak_users.extrapolated
    assert "Little's law" in peak.peak_users.label
    grid = np.linspace(1, 40_000, 200)
    assert capped_throughput(fit, grid, bound=bound).max() <= bound.max_requests_per_s + 1e-9


def test_a_peak_inside_the_measured_range_under_the_bound_is_measured() -> None:
    users = np.array([100, 200, 400, 800, 1200, 1600])
    rps = usl_throughput(users, sigma=0.02, kappa=5e-7, lambda_=1.0)
    table = pd.DataFrame({"users": users, "requests_per_s": rps, "cpu_percent": rps * 1e-4 * 100})
    fit = fit_usl(users, rps)
    peak = bounded_peak(fit, bound=demand_bound(table, cores=1), max_measured_users=1600)
    assert fit.peak_n < 1600
    assert not peak.peak_users.bounded and not peak.peak_users.extrapolated
    assert peak.peak_requests_per_s.value == pytest.approx(fit.peak_x)


def test_users_at_rps_inverts_the_rising_curve() -> None:
    fit = fit_usl([1, 2, 4, 8, 16], usl_throughput([1, 2, 4, 8, 16], sigma=0.05, kappa=0.0,
                                                   lambda_=10.0))
    n = users_at_throughput(fit, requests_per_s=100.0)
    assert float(fit.predict(n)) == pytest.approx(100.0, rel=1e-5)
    assert users_at_throughput(fit, requests_per_s=1e9) == math.inf


def test_the_capped_peak_carries_its_bootstrap_interval() -> None:
    rng = np.random.default_rng(7)
    users = np.array([100, 200, 400, 800, 1200, 1600, 2000])
    rps = usl_throughput(users, sigma=0.02, kappa=2e-7, lambda_=1.0) * rng.normal(1, 0.03, 7)
    table = pd.DataFrame({"users": users, "requests_per_s": rps, "cpu_percent": rps * 1.5})
    bound = demand_bound(table, cores=1)
    fit = fit_usl(users, rps, bootstrap=100, seed=1)
    peak = bounded_peak(fit, bound=bound, max_measured_users=2000)
    for figure in (peak.peak_users, peak.peak_requests_per_s):
        assert figure.interval is not None and figure.value is not None
        lo, hi = figure.interval
        assert lo < hi and lo <= figure.value * 1.0001  # the point is not past the low end
    x_lo, x_hi = peak.peak_requests_per_s.interval or (0.0, 0.0)
    assert bound.max_requests_per_s is not None and x_hi <= bound.max_requests_per_s + 1e-6
    unsampled = bounded_peak(fit_usl(users, rps), bound=bound, max_measured_users=2000)
    assert unsampled.peak_users.interval is None


def test_the_demand_is_read_from_steps_within_the_error_limit() -> None:
    # the last step fails 9%: its cheap 503s make its CPU per request look low
    table = pd.DataFrame({"users": [500, 1000, 1250, 1500],
                          "requests_per_s": [300.0, 600, 750, 760],
                          "cpu_percent": [25.0, 44.0, 53.0, 36.0],
                          "error_rate": [0.0, 0.0, 0.004, 0.09]})
    clean = demand_bound(table, cores=1, max_error_rate=0.01)
    x, u = np.array([300.0, 600, 750]), np.array([0.25, 0.44, 0.53])
    assert clean.n_steps == 3
    assert clean.demand_s == pytest.approx(float(np.sum(u * x) / np.sum(x * x)))
    assert demand_bound(table, cores=1).n_steps == 4  # without the limit: the failing one too
    failing = table.assign(error_rate=0.2)  # no clean step: every busy step counts
    assert demand_bound(failing, cores=1, max_error_rate=0.01).n_steps == 4


def _steps(d_us: list[float], *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.arange(1, len(d_us) + 1) * 400
    rps = users * 0.55 * rng.normal(1.0, 0.02, len(d_us))
    return pd.DataFrame({"users": users, "requests_per_s": rps,
                         "cpu_percent": rps * np.array(d_us) * 1e-6 * 100.0,
                         "error_rate": 0.0})


def test_one_noisy_step_no_longer_sets_the_bound_alone() -> None:
    # four steps agree on ~600 µs; one reads 20% low (a CPU sample lost): the old rule
    # (least demand) took that step's 480 µs, a bound 25% too generous
    table = _steps([620.0, 605.0, 480.0, 600.0, 598.0])
    bound = demand_bound(table, cores=1)
    assert bound.demand_us is not None and bound.max_requests_per_s is not None
    least_us = float(step_demand_s(table).min()) * 1e6
    assert least_us == pytest.approx(480.0, rel=0.01)
    assert abs(bound.demand_us - 600.0) / 600.0 < 0.06
    assert abs(bound.demand_us - 600.0) < abs(least_us - 600.0) / 2
    without = demand_bound(table.drop(index=2), cores=1)
    assert without.max_requests_per_s is not None
    # dropping the noisy step moves the bound by a few percent, not by the 25% it set
    assert bound.max_requests_per_s == pytest.approx(without.max_requests_per_s, rel=0.06)


def test_two_runs_of_the_same_demand_agree_on_the_bound() -> None:
    rng = np.random.default_rng(11)
    bounds = []
    for seed in (1, 2):
        d_us = list(600.0 * rng.normal(1.0, 0.08, 5))  # 8% step-to-step noise
        bound = demand_bound(_steps(d_us, seed=seed), cores=1)
        assert bound.max_requests_per_s is not None and bound.max_requests_interval is not None
        lo, hi = bound.max_requests_interval
        assert lo < bound.max_requests_per_s < hi
        bounds.append(bound.max_requests_per_s)
    assert bounds[0] == pytest.approx(bounds[1], rel=0.10)


def test_a_step_faster_than_the_regression_allows_lowers_d_to_keep_the_rule() -> None:
    # four steps near full CPU read 700 µs; the last serves 2,800 req/s at 98%: 350 µs
    rps = np.array([1000.0, 1200, 1300, 1400, 2800])
    table = pd.DataFrame({"users": [400, 800, 1200, 1600, 2000], "requests_per_s": rps,
                          "cpu_percent": rps * np.array([700, 700, 700, 700, 350]) * 1e-4})
    bound = demand_bound(table, cores=1)
    assert bound.users == 2000 and "2000-user step" in bound.note
    assert bound.max_requests_per_s is not None
    assert table["requests_per_s"].max() == pytest.approx(
        BOUND_TOLERANCE * bound.max_requests_per_s)
    assert steps_over_bound(table, bound=bound) == []


def test_users_at_the_bound_repeat_where_the_usl_sigma_swings() -> None:
    """Two ramps of the same rates, 1-2% of noise apart: the USL's N at the bound swings."""
    users = np.array([500, 1000, 1250])
    little: list[float] = []
    usl: list[float] = []
    for noise in ([1.0, 1.0, 0.985], [1.0, 0.985, 1.0]):
        rps = 0.63 * users * np.array(noise)
        table = pd.DataFrame({"users": users, "requests_per_s": rps,
                              "cpu_percent": rps * 700e-6 * 100.0})
        bound = demand_bound(table, cores=1)
        fit = fit_usl(users, rps)
        peak = bounded_peak(fit, bound=bound, max_measured_users=1250)
        assert peak.peak_users.value == pytest.approx(
            bound.max_requests_per_s / (rps.sum() / users.sum()))
        assert peak.peak_users.value is not None
        little.append(peak.peak_users.value)
        usl.append(users_at_throughput(fit, requests_per_s=bound.max_requests_per_s or 0.0))
    assert little[1] == pytest.approx(little[0], rel=0.02)
    assert abs(usl[1] / usl[0] - 1) > abs(little[1] / little[0] - 1)  # why Little's law


def test_users_at_bound_needs_a_rate_and_carries_the_bound_interval() -> None:
    table = _issue_table()
    bound = demand_bound(table, cores=1)
    got = users_at_bound(bound)
    assert got is not None and bound.max_requests_interval is not None
    n, ci = got
    rate = bound.requests_per_user_s or 0.0
    assert ci == pytest.approx((bound.max_requests_interval[0] / rate,
                                bound.max_requests_interval[1] / rate))
    assert users_at_bound(demand_bound(table.assign(cpu_percent=0.0), cores=1)) is None


def test_requests_per_user_for_littles_law_skip_a_throttled_step() -> None:
    users = np.array([500, 1500, 2500])
    rps = np.array([0.63, 0.63, 0.55]) * users  # the last step's users were held back
    table = pd.DataFrame({"users": users, "requests_per_s": rps,
                          "cpu_percent": rps * 700e-6 * 100.0})
    pooled = demand_bound(table, cores=1).requests_per_user_s
    held = demand_bound(table, cores=1, held=pd.Series([True, True, False]))
    assert held.requests_per_user_s == pytest.approx(0.63)
    assert pooled is not None and pooled < 0.60
    assert held.demand_s == demand_bound(table, cores=1).demand_s  # D still reads every step
