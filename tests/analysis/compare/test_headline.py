"""The headline table of ``pollcap compare``: every figure a report headlines, A / B / apart."""

from __future__ import annotations

import math
from typing import Any

import pytest

from analysis.compare.headline import headline_json, headline_rows


def _summary(*, users: float, per_instance: float, lambda_usd: float, rate: float,
             exact: bool = True) -> dict[str, Any]:
    rows = [{"target_users": t, "instances": math.ceil(t / per_instance),
             **({"instances_exact": t / per_instance} if exact else {})}
            for t in (1_000, 10_000)]
    return {"slo_capacity": {"users": users},
            "model": {"bound": {"max_requests_per_s": 1444.0, "demand_us": 692.5},
                      "usl_peak": {"requests_per_s": {"value": 1444.0},
                                   "users": {"value": 1444.0 / rate}},
                      "costs": [{"table": "aws-lambda-http",
                                 "per_1000_users_month_usd": lambda_usd},
                                {"table": "self-hosted", "per_1000_users_month_usd": None}]},
            "plan": {"rates": {"requests_per_s": rate}, "rows": rows}}


def test_every_headline_figure_with_its_difference_and_instances_before_rounding() -> None:
    a = _summary(users=1334, per_instance=933.8, lambda_usd=2003.12, rate=0.634)
    b = _summary(users=1285, per_instance=899.5, lambda_usd=1966.91, rate=0.619)
    rows = {r.name: r for r in headline_rows(a, b)}
    assert rows["SLO capacity (users)"].apart_pct == pytest.approx(-3.67, abs=0.01)
    assert rows["$ per 1,000 users per month: aws-lambda-http"].apart_pct == pytest.approx(
        (1966.91 - 2003.12) / 2003.12 * 100)
    ten = rows["instances at 10,000 users"]
    assert (ten.shown_a, ten.shown_b) == ("10.7 → 11", "11.1 → 12")
    assert ten.apart_pct == pytest.approx((933.8 / 899.5 - 1) * 100)  # 3.8 %, not 9.1 %
    assert rows["$ per 1,000 users per month: self-hosted"].apart_pct is None  # not priced
    assert rows["CPU bound (requests/s)"].apart_pct == 0.0
    doc = {d["figure"]: d for d in headline_json(list(rows.values()))}
    assert doc["instances at 10,000 users"]["apart_pct"] == pytest.approx(ten.apart_pct)


def test_a_report_from_before_the_continuous_figure_compares_its_whole_count() -> None:
    old = _summary(users=1334, per_instance=933.8, lambda_usd=1.0, rate=0.6, exact=False)
    new = _summary(users=1285, per_instance=899.5, lambda_usd=1.0, rate=0.6)
    ten = {r.name: r for r in headline_rows(old, new)}["instances at 10,000 users"]
    assert ten.shown_a == "11" and ten.a == 11.0 and ten.shown_b == "11.1 → 12"
    only_a = headline_rows({"slo_capacity": {"users": 10}}, {})
    assert only_a[0].b is None and only_a[0].apart_pct is None
