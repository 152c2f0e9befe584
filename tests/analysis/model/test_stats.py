"""Per-step statistics from raw samples: exact percentiles, warm-up trim, counts, CPU."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.model.stats import (
    exact_percentiles,
    median_poll_interval_ms,
    steady_requests_per_s,
    step_table,
    steps_frame,
)


def test_exact_percentiles_match_numpy_on_every_sample() -> None:
    values = np.random.default_rng(3).gamma(2.0, 300.0, 10_001)
    got = exact_percentiles(values)
    assert got == {q: pytest.approx(float(np.percentile(values, q))) for q in (50, 95, 99)}
    assert exact_percentiles(list(range(1, 101)), qs=(50,)) == {50: 50.5}
    assert all(math.isnan(v) for v in exact_percentiles([]).values())


def test_poll_interval_is_per_user_gap() -> None:
    polls = pd.DataFrame({"t_ms": [0, 2000, 4000, 500, 2500, 4500], "user": list("aaabbb")})
    assert median_poll_interval_ms(polls) == 2000.0


def _samples() -> dict[str, pd.DataFrame]:
    # step 1: [0, 10 s), step 2: [10 s, 20 s); warm-up is the first 2.5 s of each
    t = np.arange(0, 20_000, 100)
    polls = pd.DataFrame({"t_ms": t, "user": ["u0"] * len(t), "n": np.arange(len(t)),
                          "latency_ms": np.where(t < 10_000, 10.0, 40.0), "channel": "c"})
    polls.loc[polls["t_ms"] < 2_500, "latency_ms"] = 999.0  # warm-up outliers
    msgs = pd.DataFrame({"t_ms": t, "user": "u1", "n": np.arange(len(t)),
                         "latency_ms": np.where(t < 10_000, 1000.0, 3000.0), "channel": "c",
                         "seq": np.arange(len(t))})
    return {"poll": polls, "message": msgs}


def test_step_table_trims_warmup_and_uses_counts() -> None:
    steps = pd.DataFrame({"users": [10, 20], "start_ms": [0, 10_000], "end_ms": [10_000, 20_000],
                          "requests": [100, 400], "failures": [0, 8], "lost": [0, 1],
                          "duplicated": [0, 2], "redis_ops": [300, 1200], "pg_queries": [50, 200]})
    resources = pd.DataFrame({"t_ms": [3_000, 6_000, 13_000, 16_000],
                              "cpu_percent": [20, 30, 70, 90], "rss_bytes": [1e8, 2e8, 3e8, 2e8]})
    table = step_table(steps=steps, samples=_samples(), resources=resources)
    first, second = table.to_dict("records")
    assert first["req_p99_ms"] == 10.0  # the 999 ms warm-up samples were dropped
    assert (first["requests_per_s"], second["requests_per_s"]) == (10.0, 40.0)
    assert (first["delivery_p95_ms"], second["delivery_p50_ms"]) == (1000.0, 3000.0)
    assert second["error_rate"] == pytest.approx(0.02)
    assert (second["lost"], second["duplicated"]) == (1, 2)
    assert (first["redis_ops_per_s"], second["pg_queries_per_s"]) == (30.0, 20.0)
    assert (first["cpu_percent"], second["cpu_percent"], second["rss_mb"]) == (25.0, 80.0, 300.0)
    assert first["poll_interval_ms"] == 100.0
    assert first["delivery_samples"] == 75  # 7.5 s at one sample per 100 ms


def test_step_table_without_counts_derives_rps_from_polls() -> None:
    table = step_table(steps=[(10, 0, 10_000)], samples=_samples())
    row = table.iloc[0]
    assert row["requests_per_s"] == pytest.approx(10.0)  # 75 polls in the 7.5 s steady window
    assert math.isnan(row["error_rate"]) and math.isnan(row["cpu_percent"])
    assert math.isnan(row["notification_p95_ms"])


def test_bad_steps_are_rejected() -> None:
    with pytest.raises(ValueError, match="end_ms > start_ms"):
        steps_frame([(10, 5_000, 5_000)])
    with pytest.raises(ValueError, match="lack column"):
        steps_frame(pd.DataFrame({"users": [1]}))


def test_steady_rate_does_not_move_with_a_late_flush() -> None:
    # one chat poll per 100 ms plus a quarter as many other requests; the second copy's
    # counters missed their last flush (a second's counts), as a busy generator's do
    on_time = {"users": [10], "start_ms": [0], "end_ms": [10_000], "requests": [125],
               "polls": [100]}
    late = {**on_time, "requests": [112.5], "polls": [90]}
    rows = [step_table(steps=pd.DataFrame(c), samples=_samples()).iloc[0] for c in (on_time, late)]
    assert rows[0]["requests_per_s"] == pytest.approx(12.5)  # 10 polls/s × 1.25
    assert rows[1]["requests_per_s"] == pytest.approx(rows[0]["requests_per_s"])
    assert rows[1]["requests_per_s_counted"] == pytest.approx(11.25)  # the counters' own figure


def test_steady_rate_without_chat_polls_is_the_counted_one() -> None:
    assert steady_requests_per_s(sampled_polls_per_s=0.0, requests=300.0, polls=0.0,
                                 counted_per_s=30.0) == 30.0
    assert steady_requests_per_s(sampled_polls_per_s=8.0, requests=300.0, polls=float("nan"),
                                 counted_per_s=30.0) == 30.0
    assert steady_requests_per_s(sampled_polls_per_s=8.0, requests=300.0, polls=200.0,
                                 counted_per_s=30.0) == 12.0
