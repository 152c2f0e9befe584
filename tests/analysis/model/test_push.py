"""Per-step push figures and push causes from synthetic steps (pure)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.model.push import (
    push_cause,
    push_findings,
    push_table,
    rss_slope_kib,
    summarize_push,
)

STEP_MS = 20_000
BASE_RSS = 80 * 2**20


def synthetic(*, users: tuple[int, ...], kib_per_connection: float, cpu_per_conn: float,
              lag_ms: float, catchups_per_s: float = 0.0, resume_closes: float = 0.0,
              deliveries_per_user_s: float = 0.1) -> tuple[pd.DataFrame, pd.DataFrame,
                                                           pd.DataFrame]:
    """Steps of ``users`` connections each, 1 s resource rows with cumulative counters."""
    steps, rows, messages = [], [], []
    fanned = lag_sum = catchups = closes = 0.0
    for i, n in enumerate(users):
        start = 1_000_000 + i * STEP_MS
        steps.append({"users": n, "start_ms": start, "end_ms": start + STEP_MS})
        for t in range(start, start + STEP_MS, 1000):
            fanned += 10
            lag_sum += 10 * lag_ms
            catchups += catchups_per_s
            closes += resume_closes / (STEP_MS / 1000)
            rows.append({"t_ms": float(t), "cpu_percent": 100 * cpu_per_conn * n,
                         "rss_bytes": BASE_RSS + kib_per_connection * 1024 * n,
                         "push_ws_connections": float(n), "push_sse_connections": 0.0,
                         "push_longpoll_waiting": 0.0, "push_fanout_messages": fanned,
                         "push_fanout_lag_ms_sum": lag_sum, "push_catchups": catchups,
                         "push_resume_closes": closes})
        per_s = int(n * deliveries_per_user_s)
        messages += [{"t_ms": float(t + k)} for t in range(start, start + STEP_MS, 1000)
                     for k in range(per_s)]
    return pd.DataFrame(steps), pd.DataFrame(rows), pd.DataFrame(messages)


def test_rss_slope_recovers_the_memory_per_connection() -> None:
    steps, resources, messages = synthetic(users=(1000, 2000, 4000), kib_per_connection=21.5,
                                           cpu_per_conn=1e-4, lag_ms=5)
    table = push_table(steps=steps, resources=resources, messages=messages, warmup_fraction=0.25)
    assert list(table["connections"]) == [1000, 2000, 4000]
    assert rss_slope_kib(table) == pytest.approx(21.5, rel=1e-6)


def test_cpu_per_message_and_per_connection() -> None:
    steps, resources, messages = synthetic(users=(1000, 3000), kib_per_connection=20,
                                           cpu_per_conn=2e-4, lag_ms=5)
    table = push_table(steps=steps, resources=resources, messages=messages, warmup_fraction=0.25)
    row = table.iloc[1]
    # 3000 users x 0.1/s = 300 deliveries/s at 0.6 cores -> 2 ms each; 200 us/s per connection
    assert row["delivered_per_s"] == pytest.approx(300, rel=0.01)
    assert row["cpu_ms_per_message"] == pytest.approx(0.6 * 1000 / 300, rel=0.01)
    assert row["cpu_us_per_connection_s"] == pytest.approx(200.0, rel=1e-6)
    assert row["fanout_lag_ms"] == pytest.approx(5.0)


def test_causes_name_fanout_lag_slow_consumers_and_overload() -> None:
    steps, resources, messages = synthetic(users=(1000, 2000), kib_per_connection=20,
                                           cpu_per_conn=1e-4, lag_ms=5)
    healthy = push_findings(transport="websocket", steps=steps, resources=resources,
                            messages=messages, step_delivery_p50_ms={1000: 12, 2000: 14},
                            warmup_fraction=0.25)
    assert [c.cause for c in healthy.causes] == ["ok", "ok"]
    assert "no fan-out lag" in healthy.summary

    steps, resources, messages = synthetic(users=(1000, 5000), kib_per_connection=20,
                                           cpu_per_conn=1.9e-4, lag_ms=300, catchups_per_s=5,
                                           resume_closes=3)
    sick = push_findings(transport="websocket", steps=steps, resources=resources,
                         messages=messages, step_delivery_p50_ms={1000: 320, 5000: 900},
                         warmup_fraction=0.25)
    assert sick.causes[0].cause == "fan-out lag, slow consumers"
    assert sick.causes[1].cause == "fan-out lag, slow consumers, overload"
    assert "service CPU 95%" in sick.causes[1].evidence
    assert sick.summary == ("Push: fan-out lag at 1000, 5000 users; slow consumers at 1000, "
                            "5000 users; overload at 5000 users.")


def test_fanout_lag_counts_when_it_is_most_of_a_fast_delivery() -> None:
    row = {"users": 10, "connections": 10.0, "fanout_lag_ms": 30.0, "catchups_per_s": 0.0,
           "delivered_per_s": 5.0, "resume_closes": 0.0, "cpu_cores": 0.1}
    assert push_cause(row, delivery_p50_ms=40.0).cause == "fan-out lag"
    assert push_cause(row, delivery_p50_ms=200.0).cause == "ok"


def test_no_metrics_is_no_data_not_ok() -> None:
    steps = pd.DataFrame({"users": [10], "start_ms": [0], "end_ms": [10_000]})
    resources = pd.DataFrame({"t_ms": np.arange(0, 10_000, 1000.0), "cpu_percent": 10.0,
                              "rss_bytes": float(BASE_RSS)})
    found = push_findings(transport="sse", steps=steps, resources=resources,
                          messages=pd.DataFrame({"t_ms": []}), step_delivery_p50_ms={},
                          warmup_fraction=0.25)
    assert found.causes[0].cause == "no data"
    assert found.rss_kib_per_connection is None
    assert math.isnan(found.table.iloc[0]["cpu_ms_per_message"])
    assert summarize_push(found.causes).startswith("Push: no /metrics samples")
