"""The report's issue-12 figures gathered for one synthetic run."""

from __future__ import annotations

import math

import numpy as np

from analysis.model.findings import findings_json, model_findings
from analysis.model.plan import per_user_rates, scale_out_plan
from analysis.model.pricing import default_tables
from analysis.model.slo import slo_capacity
from analysis.model.stats import step_table
from analysis.model.usl import fit_usl
from analysis.synthetic import synthetic_capacity_data


def _findings(data):  # noqa: ANN001, ANN202
    table = step_table(steps=data.steps, samples=data.samples, resources=data.resources)
    capacity = slo_capacity(table)
    plan = scale_out_plan(capacity=capacity, rates=per_user_rates(table, capacity=capacity))
    fit = fit_usl(table["users"], table["requests_per_s"])
    inputs = {**data.meta, "service_cores": 1, "generator_processes": 1}
    return table, capacity, model_findings(
        table=table, fit=fit, capacity=capacity, plan=plan, steps=data.steps,
        resources=data.resources, inputs=inputs, price_tables=default_tables(),
        targets=(10_000, 100_000))


def test_every_step_is_under_the_cpu_bound_and_every_table_is_priced() -> None:
    table, capacity, f = _findings(synthetic_capacity_data(seed=3))
    assert f.bound.max_requests_per_s is not None
    assert (table["requests_per_s"] <= 1.05 * f.bound.max_requests_per_s).all()
    assert f.over_bound_users == []
    assert f.peak is not None and f.peak.peak_requests_per_s.value is not None
    assert f.peak.peak_requests_per_s.value <= f.bound.max_requests_per_s + 1e-9
    assert {c.table for c in f.costs} == {"aws-lambda-http", "aws-apigw-websocket",
                                          "cloudflare-durable-objects", "self-hosted"}
    assert all(c.per_1000_users_month_usd is not None and c.per_1000_users_month_usd > 0
               for c in f.costs)
    assert f.usage.requests_per_user_s > 0 and math.isfinite(f.usage.response_ms)
    assert not f.saturated_users and not f.capacity_lower_bound
    assert all(b.source == "not measured" for b in f.backends)  # no backend CPU sampled
    doc = findings_json(f)
    assert doc["bound"]["demand_us"] == f.bound.demand_us
    assert len(doc["costs"]) == 4 and doc["steps_over_bound"] == []


def test_a_saturated_generator_at_the_deciding_step_makes_capacity_a_lower_bound() -> None:
    data = synthetic_capacity_data(seed=3)
    res = data.resources
    res["generator_cpu_percent"] = 40.0
    res["redis_cpu_percent"] = res["cpu_percent"] * 0.2
    table, capacity, _ = _findings(data)
    assert capacity.status == "interpolated" and capacity.first_fail_users is not None
    fail = data.steps.loc[data.steps["users"] == capacity.first_fail_users].iloc[0]
    in_step = (res["t_ms"] >= fail["start_ms"]) & (res["t_ms"] < fail["end_ms"])
    res.loc[in_step, "generator_cpu_percent"] = 97.0
    _, _, f = _findings(data)
    assert f.saturated_users == [capacity.first_fail_users]
    assert f.capacity_lower_bound
    redis = {b.name: b for b in f.backends}["Redis"]
    assert redis.source == "measured CPU" and redis.users_per_node is not None
    assert f.usage.redis_nodes_per_user == 1.0 / redis.users_per_node
    assert np.isfinite([n.nodes for n in f.backend_nodes if n.name == "Redis"]).all()


def test_the_report_says_what_the_knee_ramp_would_measure_next() -> None:
    _, capacity, f = _findings(synthetic_capacity_data(seed=3))
    lo, hi = capacity.last_pass_users, capacity.first_fail_users
    assert f.knee.phase == "refine" and f.knee.users == (lo + hi) // 2
    assert f.knee_hint == f"--start-users {lo} --step-users {(hi - lo) // 4} --max-users {hi}"
    early = synthetic_capacity_data(users=(50, 100, 200, 400, 600, 800), seed=3)
    _, capacity, f = _findings(early)
    assert capacity.status == "never_exceeded"
    assert f.knee.phase == "extend" and f.knee.users == 1200
    assert f.knee_hint == "--max-users 1200"
    assert findings_json(f)["knee_next"]["hint"] == "--max-users 1200"


def test_lambda_duration_is_the_held_steps_least_response_time() -> None:
    import pandas as pd

    from analysis.model.findings import usage_from_run
    from analysis.model.slo import SloCapacity

    # the second run of a pair: its 1,500-user step answered in 55 ms on a shared core,
    # its 2,500-user step (within the SLO) was throttled and missed its poll schedule
    table = pd.DataFrame({"users": [500, 1500, 2500], "start_ms": [0, 20_000, 40_000],
                          "end_ms": [15_000, 35_000, 55_000], "req_mean_ms": [1.7, 54.7, 103.8],
                          "requests_per_s": [310.0, 930.0, 1170.0], "delivery_samples": 0})
    cap = SloCapacity(users=2514.0, status="interpolated", limited_by="error rate",
                      last_pass_users=2500, first_fail_users=2750, slo_p95_ms=3000,
                      max_error_rate=0.01, message="")
    plan = scale_out_plan(capacity=cap, rates=per_user_rates(table, capacity=cap))
    held = pd.Series([True, True, False])
    usage = usage_from_run(table=table, capacity=cap, plan=plan, backends=[], inputs={},
                           held=held)
    assert usage.response_ms == 1.7  # no queue: the least mean of the held steps
    pooled = usage_from_run(table=table, capacity=cap, plan=plan, backends=[], inputs={})
    assert pooled.response_ms == (1.7 * 500 + 54.7 * 1500 + 103.8 * 2500) / 4500
