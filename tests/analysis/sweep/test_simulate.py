"""The policy simulator against cases with closed-form answers, and against Monte Carlo."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.sweep.delivery import stale_probability
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.response import ResponseModel
from analysis.sweep.seed_cache import SeedDelayMemo
from analysis.sweep.simulate import (
    evaluate_policies,
    evaluate_policy,
    simulate_deliveries,
)
from analysis.synthetic import synthetic_run
from target_service.policy import PRESETS, ThresholdPolicy

RESPONSE_MS = 20.0


def flat_response(capacity_rps: float = 1e6) -> ResponseModel:
    """Response time RESPONSE_MS at any load below capacity (a measured flat curve)."""
    return ResponseModel(
        capacity_rps=capacity_rps,
        base_ms=RESPONSE_MS,
        curve_rps=(0.0, capacity_rps * 0.999),
        curve_ms=(RESPONSE_MS, RESPONSE_MS),
    )


def constant_run(
    *,
    users: list[int],
    messages: int = 3000,
    cache_mode: str = "fresh",
    response: ResponseModel | None = None,
    background_rps: float = 0.0,
) -> RecordedRun:
    """One 60 s window, channels with the given users, messages spread evenly."""
    rng = np.random.default_rng(1)
    channel = rng.integers(0, len(users), messages)
    return RecordedRun(
        run_id="t",
        window_start_ms=np.array([0.0]),
        window_end_ms=np.array([60_000.0]),
        channel_users=np.array([users], dtype=float),
        message_channel=channel,
        message_created_ms=rng.random(messages) * 60_000.0,
        response=response or flat_response(),
        background_rps=np.array([background_rps]),
        cache_mode=cache_mode,
    )


def fixed(interval_ms: int) -> ThresholdPolicy:
    return ThresholdPolicy(name=f"fixed-{interval_ms}", default_ms=interval_ms, cap_ms=interval_ms)


@pytest.mark.parametrize("interval_ms", [1000, 2000, 5000])
def test_fixed_interval_matches_closed_form(interval_ms: int) -> None:
    run = constant_run(users=[3, 10, 40])
    out = evaluate_policy(run, fixed(interval_ms))
    assert out["polls_per_s"] == pytest.approx(53 * 1000 / interval_ms)
    assert out["delivery_mean_ms"] == pytest.approx(interval_ms / 2 + RESPONSE_MS)
    assert out["delivery_p50_ms"] == pytest.approx(0.50 * interval_ms + RESPONSE_MS, abs=0.5)
    assert out["delivery_p95_ms"] == pytest.approx(0.95 * interval_ms + RESPONSE_MS, abs=0.5)
    assert out["delivery_p99_ms"] == pytest.approx(0.99 * interval_ms + RESPONSE_MS, abs=0.5)
    assert not out["saturated"]


def test_request_rate_adds_background_and_prices_it() -> None:
    run = constant_run(users=[20], background_rps=7.0)
    out = evaluate_policy(run, fixed(2000))
    assert out["requests_per_s"] == pytest.approx(20 / 2 + 7.0)
    assert out["cost_per_month_usd"] == pytest.approx(17.0 * 30 * 86_400 * 0.20 / 1e6)


def test_two_intervals_mix_by_message_and_receiver_weight() -> None:
    """seed-dynamic: 3 users -> 5000 ms, 12 users -> 1000 ms; weights = messages x receivers."""
    run = constant_run(users=[3, 12])
    out = evaluate_policy(run, PRESETS["seed-dynamic"])
    counts = np.bincount(run.message_channel, minlength=2)
    w_slow, w_fast = counts[0] * 2, counts[1] * 11
    mean = (w_slow * 2500 + w_fast * 500) / (w_slow + w_fast) + RESPONSE_MS
    assert out["delivery_mean_ms"] == pytest.approx(mean)
    assert out["polls_per_s"] == pytest.approx(3 / 5 + 12 / 1)
    # p50: solve the mixture CDF of U[20, 5020] and U[20, 1020] by hand
    share_slow = w_slow / (w_slow + w_fast)
    x = 20 + 0.5 / (share_slow / 5000 + (1 - share_slow) / 1000)
    assert x < 1020
    assert out["delivery_p50_ms"] == pytest.approx(x, abs=0.5)


def test_seed_cache_adds_expected_staleness() -> None:
    run = dataclasses.replace(
        constant_run(users=[10], cache_mode="seed"), seed_cache_model="analytic"
    )
    out = evaluate_policy(run, fixed(2000))
    q = stale_probability(polls_per_s=np.array([10 / 2.0]), cache_ttl_s=5.0)[0]
    assert out["delivery_mean_ms"] == pytest.approx(1000 + RESPONSE_MS + q * 2500)
    off = evaluate_policy(constant_run(users=[10], cache_mode="fresh"), fixed(2000))
    assert off["delivery_mean_ms"] == pytest.approx(1000 + RESPONSE_MS)


def test_load_fixed_point_hovers_at_the_threshold() -> None:
    """Fast intervals would load the service beyond 0.8, slow ones below: load settles at 0.8."""
    policy = ThresholdPolicy(
        name="p", default_ms=1000, load_threshold=0.8, load_factor=2.0, cap_ms=10_000
    )
    run = constant_run(users=[100], response=ResponseModel(capacity_rps=100.0, base_ms=10.0))
    out = evaluate_policy(run, policy)
    assert out["peak_load"] == pytest.approx(0.8)
    assert out["polls_per_s"] == pytest.approx(80.0)
    assert out["response_ms"] == pytest.approx(10.0 / (1 - 0.8))
    # clearly below the threshold: no slowing
    light = constant_run(users=[50], response=ResponseModel(capacity_rps=100.0, base_ms=10.0))
    assert evaluate_policy(light, policy)["polls_per_s"] == pytest.approx(50.0)


def test_saturation_gives_infinite_latency() -> None:
    run = constant_run(users=[300], response=ResponseModel(capacity_rps=100.0, base_ms=10.0))
    out = evaluate_policy(run, fixed(2000))
    assert out["saturated"] and out["peak_load"] == pytest.approx(1.5)
    assert np.isinf(out["delivery_p95_ms"])


def test_response_model_interpolates_then_queues() -> None:
    model = ResponseModel.from_points(
        throughput_rps=np.array([10.0, 50.0, 100.0]),
        response_ms=np.array([5.0, 6.0, 10.0]),
        capacity_rps=200.0,
    )
    assert model.response_ms(0.15) == pytest.approx(5.5)  # 30 rps, halfway 10..50
    assert model.response_ms(0.75) == pytest.approx(10.0 * 0.5 / 0.25)  # M/M/1 from 100 rps
    assert np.isinf(model.response_ms(1.0))


@pytest.mark.parametrize(
    ("cache_mode", "seed_model"),
    [("seed", "analytic"),
     pytest.param("seed", "simulated", marks=pytest.mark.slow),  # ~10 s: simulates the seed cache
     ("fresh", "-")],
)
def test_closed_form_matches_monte_carlo(cache_mode: str, seed_model: str) -> None:
    run = synthetic_run(n_events=40_000, cache_mode=cache_mode, seed=3)
    if seed_model != "-":
        run = dataclasses.replace(run, seed_cache_model=seed_model)
    memo = SeedDelayMemo()  # one simulation of the seed cache serves both sides
    table = evaluate_policies(run, list(PRESETS.values()), memo=memo)
    for policy, row in zip(PRESETS.values(), table.itertuples(), strict=True):
        samples = simulate_deliveries(run, policy, seed=5, memo=memo)
        mc = np.percentile(samples, [50, 95, 99])
        exact = [row.delivery_p50_ms, row.delivery_p95_ms, row.delivery_p99_ms]
        assert exact == pytest.approx(mc, rel=0.02), policy.name
        assert row.delivery_mean_ms == pytest.approx(samples.mean(), rel=0.01)


@pytest.mark.parametrize("cache_mode", ["fresh", "seed"])
def test_merged_states_give_the_same_answer(cache_mode: str) -> None:
    """Merging channels of equal size and rate class changes nothing, with or without rates."""
    run = synthetic_run(n_events=20_000, seed=2, cache_mode=cache_mode)
    run = dataclasses.replace(run, seed_cache_model="analytic")  # simulated: never merged
    policies = list(PRESETS.values()) + [
        ThresholdPolicy.from_dict(
            {**p.to_dict(), "name": f"{p.name}-r{above}", "rate_thresholds": [[above, 1000]]}
        )
        for p in PRESETS.values()
        for above in (0.02, 0.1, 0.5)
    ]
    merged = evaluate_policies(run, policies)
    exact = evaluate_policies(run, policies, merge=False)
    cols = ["polls_per_s", "delivery_mean_ms", "delivery_p95_ms", "delivery_p99_ms"]
    np.testing.assert_allclose(merged[cols].to_numpy(), exact[cols].to_numpy(), rtol=1e-6)
    # the rate thresholds fire somewhere: they change the answer
    base = merged["polls_per_s"].to_numpy()[:4]
    with_low_rate = merged["polls_per_s"].to_numpy()[4::3]  # above = 0.02 msg/s
    assert (with_low_rate > base).any()


def test_rate_thresholds_use_the_channel_message_rate() -> None:
    run = constant_run(users=[10, 10], messages=0)
    rng = np.random.default_rng(0)
    busy = RecordedRun(
        run_id="t",
        window_start_ms=run.window_start_ms,
        window_end_ms=run.window_end_ms,
        channel_users=run.channel_users,
        message_channel=np.zeros(600, dtype=int),  # 10 msg/s in channel 0, none in 1
        message_created_ms=rng.random(600) * 60_000,
        response=run.response,
        cache_mode="fresh",
    )
    policy = ThresholdPolicy(name="r", default_ms=5000, rate_thresholds=((1.0, 1000),))
    out = evaluate_policy(busy, policy)
    assert out["polls_per_s"] == pytest.approx(10 / 1 + 10 / 5)
    assert out["delivery_mean_ms"] == pytest.approx(500 + RESPONSE_MS)


def test_run_validates_its_arrays() -> None:
    with pytest.raises(ValueError, match="channel_users"):
        RecordedRun(
            run_id="bad",
            window_start_ms=np.array([0.0]),
            window_end_ms=np.array([1.0]),
            channel_users=np.array([1.0, 2.0]),
            message_channel=np.zeros(0, dtype=int),
            message_created_ms=np.zeros(0),
            response=flat_response(),
        )
