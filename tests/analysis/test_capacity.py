"""SLO capacity, scale-out plan and cost on step tables with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.model.plan import (
    PerUserRates,
    SloCapacity,
    per_user_rates,
    scale_out_plan,
    slo_capacity,
)


def _table(users: list[int], p95: list[float], errors: list[float] | None = None) -> pd.DataFrame:
    errors = errors or [0.0] * len(users)
    return pd.DataFrame({"users": users, "delivery_p95_ms": p95, "error_rate": errors,
                         "rps": [u / 2 for u in users], "redis_ops_s": [u * 1.5 for u in users],
                         "pg_queries_s": [u * 0.2 for u in users]})


def test_p95_crossing_is_interpolated_between_steps() -> None:
    # p95 = 1000 + 2 * users: crosses 3000 ms at exactly 1000 users
    users = [200, 400, 600, 800, 1200, 1400]
    cap = slo_capacity(_table(users, [1000 + 2 * u for u in users]), slo_p95_ms=3000)
    assert (cap.status, cap.users, cap.limited_by) == ("interpolated", 1000, "p95 delivery")
    assert (cap.last_pass_users, cap.first_fail_users) == (800, 1200)


def test_error_rate_can_be_the_limit() -> None:
    users = [100, 200, 300, 400]
    cap = slo_capacity(_table(users, [500, 600, 700, 800], [0, 0.0, 0.005, 0.025]))
    # 0.5% at 300, 2.5% at 400: 1% is crossed at 325 users
    assert (cap.status, cap.users, cap.limited_by) == ("interpolated", 325, "error rate")


def test_first_failure_counts_even_if_a_later_step_passes_again() -> None:
    cap = slo_capacity(_table([100, 200, 300, 400], [1000, 4000, 2000, 2500]), slo_p95_ms=3000)
    assert cap.first_fail_users == 200 and cap.users == pytest.approx(166)


def test_never_exceeded_is_a_lower_bound() -> None:
    cap = slo_capacity(_table([100, 200, 300], [900, 1000, 1100]))
    assert (cap.status, cap.users) == ("never_exceeded", 300)
    assert "at least 300" in cap.message


def test_never_met_says_so() -> None:
    cap = slo_capacity(_table([100, 200], [5000, 6000]))
    assert (cap.status, cap.users, cap.limited_by) == ("never_met", None, "p95 delivery")
    assert "not met even at the first step (100 users)" in cap.message


def test_steps_without_delivery_samples_are_ignored_unless_they_err() -> None:
    cap = slo_capacity(_table([100, 200, 300], [math.nan, 1000, 1200]))
    assert (cap.status, cap.users) == ("never_exceeded", 300)
    assert "100 users: no delivery samples, ignored" in cap.message
    # nothing delivered because everything failed: that step fails on errors
    cap = slo_capacity(_table([100, 200, 300], [1000, 1200, math.nan], [0, 0, 0.5]))
    assert (cap.status, cap.first_fail_users, cap.limited_by) == ("interpolated", 300, "error rate")
    assert slo_capacity(_table([100], [math.nan])).message.startswith("No step has delivery")


def test_per_user_rates_use_passing_steps_only() -> None:
    table = _table([100, 200, 400], [1000, 2000, 9000])
    table.loc[2, "rps"] = 10  # collapsed throughput past the SLO must not count
    cap = slo_capacity(table)
    rates = per_user_rates(table, capacity=cap)
    assert rates == PerUserRates(requests_s=0.5, redis_ops_s=1.5, pg_queries_s=pytest.approx(0.2))


def test_plan_instances_backends_and_cost() -> None:
    cap = SloCapacity(users=1000.0, status="interpolated", limited_by="p95 delivery",
                      last_pass_users=800, first_fail_users=1200, slo_p95_ms=3000,
                      max_error_rate=0.01, message="")
    rates = PerUserRates(requests_s=0.5, redis_ops_s=2.0, pg_queries_s=0.3)
    plan = scale_out_plan(capacity=cap, rates=rates, headroom=0.7,
                          redis_ops_per_node_s=100_000, pg_queries_per_node_s=10_000,
                          price_per_million_usd=0.20)
    rows = {r.target_users: r for r in plan.rows}
    assert plan.users_per_instance == pytest.approx(700)
    assert [rows[t].instances for t in (1_000, 10_000, 100_000, 1_000_000)] == [2, 15, 143, 1429]
    # 100k users: 200k Redis ops/s over 70k per node -> 3 nodes; 30k PG q/s over 7k -> 5
    assert (rows[100_000].redis_nodes, rows[100_000].pg_nodes) == (3, 5)
    assert rows[10_000].limit == "service instances"
    assert "PostgreSQL" in rows[100_000].limit and "Redis" in rows[100_000].limit
    # 1k users * 0.5 req/s * 30 days = 1.296e9 requests -> $259.20 at $0.20 per million
    assert rows[1_000].requests_month == pytest.approx(1.296e9)
    assert rows[1_000].cost_month_usd == pytest.approx(259.2)
    assert any("$0.20 per million" in a for a in plan.assumptions)


def test_plan_without_capacity_has_no_instance_count() -> None:
    cap = slo_capacity(_table([100], [9000]))
    plan = scale_out_plan(capacity=cap, rates=PerUserRates(0.5, math.nan, math.nan))
    assert all(r.instances is None and r.redis_nodes is None for r in plan.rows)
    with pytest.raises(ValueError):
        scale_out_plan(capacity=cap, rates=PerUserRates(0.5, 1, 1), headroom=0)
