"""Scale-out plan and cost on step tables with known answers."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pandas as pd
import pytest

from analysis.model.plan import PerUserRates, per_user_rates, scale_out_plan
from analysis.model.slo import SloCapacity, slo_capacity

Rows = Callable[..., pd.DataFrame]  # the step_rows fixture (conftest)


def test_per_user_rates_use_passing_steps_only(step_rows: Rows) -> None:
    table = step_rows([100, 200, 400], [1000, 2000, 9000])
    table.loc[2, "requests_per_s"] = 10  # collapsed throughput past the SLO must not count
    cap = slo_capacity(table)
    rates = per_user_rates(table, capacity=cap)
    # field by field, in declaration order (a dataclass's own ==), so pg may be approximate
    assert dataclasses.astuple(rates) == (0.5, 1.5, pytest.approx(0.2))


def test_per_user_rates_read_the_steps_that_kept_their_schedule(step_rows: Rows) -> None:
    table = step_rows([500, 1500, 2500], [1900, 1950, 2100])
    table.loc[2, "requests_per_s"] = 2500 * 0.43  # throttled users: fewer requests each
    cap = slo_capacity(table)
    assert cap.last_pass_users == 2500
    everything = per_user_rates(table, capacity=cap)
    held = per_user_rates(table, capacity=cap, held=pd.Series([True, True, False]))
    assert held.requests_per_s == pytest.approx(0.5)  # the users' own demand
    assert everything.requests_per_s < 0.47  # the throttled step pulls the pooled rate down
    none_held = per_user_rates(table, capacity=cap, held=pd.Series([False] * 3))
    assert none_held == everything  # no held step: the steps within the SLO stand


def test_plan_instances_backends_and_cost(step_rows: Rows) -> None:
    cap = SloCapacity(users=1000.0, status="interpolated", limited_by="p95 delivery",
                      last_pass_users=800, first_fail_users=1200, slo_p95_ms=3000,
                      max_error_rate=0.01, message="")
    rates = PerUserRates(requests_per_s=0.5, redis_ops_per_s=2.0, pg_queries_per_s=0.3)
    plan = scale_out_plan(capacity=cap, rates=rates, headroom=0.7,
                          redis_ops_per_node_s=100_000, pg_queries_per_node_s=10_000,
                          price_per_million_usd=0.20)
    rows = {r.target_users: r for r in plan.rows}
    assert plan.users_per_instance == pytest.approx(700)
    assert [rows[t].instances for t in (1_000, 10_000, 100_000, 1_000_000)] == [2, 15, 143, 1429]
    # the continuous figure the count is rounded up from: 10,000 / 700 = 14.29 instances' worth
    assert rows[10_000].instances_exact == pytest.approx(10_000 / 700)
    # 100k users: 200k Redis ops/s over 70k per node -> 3 nodes; 30k PG q/s over 7k -> 5
    assert (rows[100_000].redis_nodes, rows[100_000].pg_nodes) == (3, 5)
    assert rows[10_000].limit == "service instances"
    assert "PostgreSQL" in rows[100_000].limit and "Redis" in rows[100_000].limit
    # 1k users * 0.5 req/s * 30 days = 1.296e9 requests -> $259.20 at $0.20 per million
    assert rows[1_000].requests_per_month == pytest.approx(1.296e9)
    assert rows[1_000].cost_per_month_usd == pytest.approx(259.2)
    assert any("$0.20 per million" in a for a in plan.assumptions)


def test_plan_without_capacity_has_no_instance_count(step_rows: Rows) -> None:
    cap = slo_capacity(step_rows([100], [9000]))
    plan = scale_out_plan(capacity=cap, rates=PerUserRates(0.5, math.nan, math.nan))
    assert all(r.instances is None and r.redis_nodes is None for r in plan.rows)
    assert all(r.instances_exact is None for r in plan.rows)
    with pytest.raises(ValueError):
        scale_out_plan(capacity=cap, rates=PerUserRates(0.5, 1, 1), headroom=0)


def test_two_runs_across_a_whole_number_agree_on_the_continuous_count() -> None:
    # last stop's pair: 933.8 and 899.5 users per instance put 10,000 users at 10.7 and
    # 11.1 instances' worth (3.8 % apart), whose ceilings 11 and 12 are 9.1 % apart
    rates = PerUserRates(requests_per_s=0.6, redis_ops_per_s=1.0, pg_queries_per_s=0.1)
    rows = []
    for users in (1334.0, 1285.0):
        cap = SloCapacity(users=users, status="interpolated", limited_by="error rate",
                          last_pass_users=1250, first_fail_users=1500, slo_p95_ms=3000,
                          max_error_rate=0.01, message="")
        plan = scale_out_plan(capacity=cap, rates=rates, headroom=0.7, targets=[10_000])
        rows.append(plan.rows[0])
    assert [r.instances for r in rows] == [11, 12]
    exact = [r.instances_exact for r in rows]
    assert exact == [pytest.approx(10.71, abs=0.01), pytest.approx(11.12, abs=0.01)]
    exact_0, exact_1 = exact
    instances_0, instances_1 = (r.instances for r in rows)
    assert exact_0 is not None and exact_1 is not None
    assert instances_0 is not None and instances_1 is not None
    assert abs(exact_1 / exact_0 - 1) < 0.05 < instances_1 / instances_0 - 1
