"""Naming why delivery latency is above the polling floor T/2 + response time."""

from __future__ import annotations

import pandas as pd

from analysis.model.causes import diagnose, summarize


def _row(users: int, *, p50: float, req_p50: float = 20.0, req_p95: float = 30.0,
         cpu: float = 40.0, interval: float = 2000.0, error_rate: float = 0.0) -> dict:
    return {"users": users, "poll_interval_ms": interval, "req_p50_ms": req_p50,
            "req_p95_ms": req_p95, "delivery_p50_ms": p50, "cpu_percent": cpu,
            "error_rate": error_rate}


def test_at_floor_staleness_and_overload_are_told_apart() -> None:
    table = pd.DataFrame([
        _row(100, p50=1030.0),                          # floor 1020 ms: at floor
        _row(200, p50=3400.0),                          # healthy but +2.4 s: the cache
        _row(400, p50=4000.0, req_p95=400.0, cpu=97.0),  # slow and busy: overload
    ])
    causes = diagnose(table, cache_ttl_s=5, nominal_interval_ms=2000)
    assert [c.cause for c in causes] == ["at floor", "cache staleness", "overload"]
    assert causes[0].floor_p50_ms == 1020.0
    assert "CPU 97%" in causes[2].evidence and "request p95 400 ms" in causes[2].evidence
    assert summarize(causes) == ("Delivery latency is above the polling floor: cache staleness "
                                 "at 200 users; overload at 400 users.")


def test_an_excess_neither_cache_nor_overload_explains_is_reported_as_such() -> None:
    causes = diagnose(pd.DataFrame([_row(100, p50=2500.0)]), cache_ttl_s=None)
    assert causes[0].cause == "unexplained" and "no cache" in causes[0].evidence
    causes = diagnose(pd.DataFrame([_row(100, p50=9000.0)]), cache_ttl_s=5)
    assert causes[0].cause == "unexplained" and "more than the 5 s cache TTL" in causes[0].evidence


def test_late_polls_and_errors_are_overload() -> None:
    table = pd.DataFrame([_row(100, p50=1000.0), _row(900, p50=2600.0, interval=3000.0),
                          _row(1200, p50=3000.0, error_rate=0.05)])
    causes = diagnose(table, cache_ttl_s=5, nominal_interval_ms=2000)
    assert [c.cause for c in causes] == ["at floor", "overload", "overload"]
    assert "polls every 3000 ms instead of 2000 ms" in causes[1].evidence
    assert "error rate 5.0%" in causes[2].evidence


def test_no_samples_is_no_data() -> None:
    causes = diagnose(pd.DataFrame([_row(100, p50=float("nan"))]), cache_ttl_s=5)
    assert causes[0].cause == "no data"
    assert summarize(causes).startswith("No step has both poll and delivery samples")


def test_a_median_well_under_the_floor_is_flagged_not_blamed() -> None:
    causes = diagnose(pd.DataFrame([_row(100, p50=600.0)]), cache_ttl_s=0, nominal_interval_ms=2000)
    assert causes[0].cause == "below floor" and "not created independently" in causes[0].evidence
    assert summarize(causes).startswith("Delivery latency stays at the polling floor")
