"""Causes read the tail: p95 over the SLO with the CPU at >= 90% is overload."""

from __future__ import annotations

import pandas as pd

from analysis.model.causes import diagnose


def _row(*, p50: float, p95: float, cpu: float) -> dict:
    return {"users": 4750, "poll_interval_ms": 2000.0, "req_p50_ms": 20.0, "req_p95_ms": 30.0,
            "delivery_p50_ms": p50, "delivery_p95_ms": p95, "cpu_percent": cpu,
            "error_rate": 0.0}


def test_issue_step_over_the_slo_at_98_percent_cpu_is_overload_not_at_floor() -> None:
    table = pd.DataFrame([_row(p50=1030.0, p95=4560.0, cpu=98.0)])
    assert diagnose(table, cache_ttl_s=0, nominal_interval_ms=2000)[0].cause == "at floor"
    cause = diagnose(table, cache_ttl_s=0, nominal_interval_ms=2000, slo_p95_ms=3000.0)[0]
    assert cause.cause == "overload"
    assert "p95 delivery 4560 ms over the 3000 ms SLO" in cause.evidence
    assert "CPU 98%" in cause.evidence


def test_a_tail_over_the_slo_on_an_idle_cpu_or_under_it_keeps_the_median_verdict() -> None:
    idle = pd.DataFrame([_row(p50=1030.0, p95=4560.0, cpu=60.0)])
    assert diagnose(idle, cache_ttl_s=0, nominal_interval_ms=2000,
                    slo_p95_ms=3000.0)[0].cause == "at floor"
    under = pd.DataFrame([_row(p50=1030.0, p95=2900.0, cpu=98.0)])
    assert diagnose(under, cache_ttl_s=0, nominal_interval_ms=2000,
                    slo_p95_ms=3000.0)[0].cause == "at floor"
