"""A synthetic recorded run: for tests, notebooks and the sweep benchmark.

It has the shape of a capacity run: a ramp of windows (steps) with more users in
each, channels whose sizes spread over two orders of magnitude (a few busy rooms,
many small ones, so user thresholds matter), and Poisson messages whose rate grows
with the channel's users. Seeded; nothing here is measured.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS
from analysis.model.knee import StepFigures
from analysis.model.usl import usl_throughput
from analysis.runs import RunData
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.response import ResponseModel


def synthetic_run(
    *,
    n_channels: int = 40,
    n_windows: int = 5,
    window_s: float = 60.0,
    max_users_per_channel: int = 80,
    messages_per_user_per_min: float = 0.5,
    n_events: int | None = None,
    capacity_rps: float | None = None,
    base_ms: float = 15.0,
    background_rps_per_user: float = 0.1,
    cache_mode: str = "fresh",
    price_per_million_usd: float = PLAN_DEFAULTS.price_per_million_usd,
    seed: int = 0,
) -> RecordedRun:
    """A seeded run; ``n_events`` (if given) fixes the message count instead of the rate.

    Without ``capacity_rps`` the service is sized so that ``fixed-2s`` loads it to
    40 % in the busiest window.
    """
    rng = np.random.default_rng(seed)
    sizes = np.clip(
        np.round(max_users_per_channel * rng.pareto(1.2, n_channels) / 8.0) + 2,
        2,
        max_users_per_channel,
    )
    ramp = np.linspace(1.0 / n_windows, 1.0, n_windows)
    users = np.maximum(np.round(ramp[:, None] * sizes[None, :]), 1.0)
    starts = np.arange(n_windows) * window_s * 1000.0
    ends = starts + window_s * 1000.0
    rate_per_s = users * messages_per_user_per_min / 60.0
    expected = rate_per_s * window_s
    if n_events is not None:
        expected = expected * (n_events / expected.sum())
        counts = rng.multinomial(n_events, (expected / expected.sum()).ravel())
    else:
        counts = rng.poisson(expected.ravel())
    flat = np.repeat(np.arange(counts.size), counts)
    window, channel = np.divmod(flat, n_channels)
    created = starts[window] + rng.random(flat.size) * window_s * 1000.0
    order = np.argsort(created, kind="stable")
    background_rps = users.sum(axis=1) * background_rps_per_user
    if capacity_rps is None:
        capacity_rps = 2.5 * float(np.max(users.sum(axis=1) / 2.0 + background_rps))
    return RecordedRun(
        run_id=f"synthetic-{seed}",
        window_start_ms=starts,
        window_end_ms=ends,
        channel_users=users,
        message_channel=channel[order],
        message_created_ms=created[order],
        response=ResponseModel(capacity_rps=capacity_rps, base_ms=base_ms),
        background_rps=background_rps,
        cache_mode=cache_mode,
        price_per_million_usd=price_per_million_usd,
    )


T0_MS = 1_800_000_000_000  # a fixed epoch ms, so folders of synthetic runs compare


def synthetic_step_measure(*, slo_users: float) -> Callable[[int, float, float], StepFigures]:
    """A knee ramp's ``measure`` for a synthetic service: 0.5 req/s per user, no errors,
    p95 delivery 1000 + 2000·(users / slo_users)^4 ms (3000 ms, the SLO, at ``slo_users``)."""
    def measure(users: int, start_s: float, end_s: float) -> StepFigures:
        p95 = 1000.0 + 2000.0 * (users / slo_users) ** 4
        return StepFigures(users=users, requests_per_s=users / 2.0, error_rate=0.0,
                           delivery_p95_ms=p95)
    return measure


def synthetic_capacity_data(
    *,
    run_id: str = "synthetic",
    users: tuple[int, ...] = (50, 100, 200, 400, 700, 1000, 1400, 1800),
    step_s: float = 20.0,
    interval_ms: float = 2000.0,
    n_channels: int = 10,
    sigma: float = 0.001,
    kappa: float = 1e-6,
    lambda_: float = 2.0,
    base_ms: float = 15.0,
    cache_ttl_s: float | None = None,
    target_users: int | None = 500,
    seed: int = 0,
) -> RunData:
    """A step-ramp capacity run as ``pollcap capacity`` would save it (``RunData``).

    Users poll every ``interval_ms`` on a grid with random phases, in a closed loop
    against a service whose throughput follows the USL in users: below saturation
    each user polls on time, past it each cycle stretches to ``N / X(N)`` and the
    excess becomes response time (and, past 20 % queueing, errors). Delivery = wait
    for the receiver's next poll + response time (+ a cache staleness term when
    ``cache_ttl_s`` is given). Steps carry the runner's counts and the service's
    CPU/RSS. Seeded; nothing measured.
    """
    rng = np.random.default_rng(seed)
    peak_rps = float(np.max(usl_throughput(np.arange(1, 20_000), sigma=sigma, kappa=kappa,
                                           lambda_=lambda_)))
    parts: dict[str, list[pd.DataFrame]] = {"poll": [], "message": [], "notification": []}
    steps, resources = [], []
    for i, n in enumerate(users):
        start_ms = T0_MS + int(i * step_s * 1000)
        end_ms = start_ms + int(step_s * 1000)
        cycle_ms = max(interval_ms, n / _usl(n, sigma, kappa, lambda_) * 1000.0)
        polls = _step_polls(rng, n=n, start_ms=start_ms, step_s=step_s, cycle_ms=cycle_ms,
                            interval_ms=interval_ms, base_ms=base_ms, n_channels=n_channels)
        messages, notes = _step_deliveries(
            rng, n=n, start_ms=start_ms, end_ms=end_ms, cycle_ms=cycle_ms,
            queue_ms=cycle_ms - interval_ms, base_ms=base_ms, cache_ttl_s=cache_ttl_s,
            n_channels=n_channels)
        parts["poll"].append(polls)
        parts["message"].append(messages)
        parts["notification"].append(notes)
        steps.append(_step_counts(n=n, start_ms=start_ms, end_ms=end_ms, polls=len(polls),
                                  queue_share=(cycle_ms - interval_ms) / cycle_ms))
        t_res = np.arange(start_ms, end_ms, 1000)
        resources.append(pd.DataFrame({
            "t_ms": t_res, "cpu_percent": min(100.0, 100.0 * (n / cycle_ms * 1000) / peak_rps)
            + rng.normal(0, 2, t_res.size),
            "rss_bytes": 80e6 + n * 20e3 + rng.normal(0, 1e6, t_res.size)}))
    samples = {kind: pd.concat(frames).sort_values("t_ms", kind="stable").reset_index(drop=True)
               for kind, frames in parts.items()}
    meta = {"service_policy": "fixed-2s", "client_policy": "fixed-2s",
            "nominal_interval_ms": interval_ms, "cache_mode": "seed" if cache_ttl_s else "fresh",
            "cache_ttl_s": cache_ttl_s, "slo_p95_ms": PLAN_DEFAULTS.slo_p95_ms,
            "target_users": target_users, "host": "127.0.0.1 (synthetic)"}
    return RunData(run_id=run_id, steps=pd.DataFrame(steps), samples=samples,
                   resources=pd.concat(resources).reset_index(drop=True), meta=meta)


def _usl(n: int, sigma: float, kappa: float, lambda_: float) -> float:
    return float(usl_throughput(n, sigma=sigma, kappa=kappa, lambda_=lambda_))


def _step_polls(rng: np.random.Generator, *, n: int, start_ms: int, step_s: float,
                cycle_ms: float, interval_ms: float, base_ms: float,
                n_channels: int) -> pd.DataFrame:
    """Every user polls on a grid with a random phase; queueing adds to each response."""
    per_user = int(step_s * 1000 // cycle_ms)
    phase = rng.uniform(0, cycle_ms, size=n)
    t = start_ms + phase[:, None] + np.arange(per_user)[None, :] * cycle_ms
    user_ids = np.repeat(np.arange(n), per_user)
    latency = base_ms * rng.lognormal(0.0, 0.3, size=t.size) + (cycle_ms - interval_ms)
    return pd.DataFrame({"t_ms": t.ravel().astype(np.int64),
                         "user": [f"u{u}" for u in user_ids],
                         "n": np.tile(np.arange(per_user), n),
                         "latency_ms": np.round(latency, 3),
                         "channel": [f"c{u % n_channels}" for u in user_ids]})


def _step_deliveries(rng: np.random.Generator, *, n: int, start_ms: int, end_ms: int,
                     cycle_ms: float, queue_ms: float, base_ms: float,
                     cache_ttl_s: float | None,
                     n_channels: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two messages per user and step, one receive each; a quarter as many notifications."""
    m = n * 2
    wait = rng.uniform(0, cycle_ms, size=m) + base_ms * rng.lognormal(0, 0.3, size=m) + queue_ms
    if cache_ttl_s:
        wait += rng.uniform(0, cache_ttl_s * 1000.0, size=m)
    t_msg = np.sort(rng.uniform(start_ms, end_ms, size=m)).astype(np.int64)
    messages = pd.DataFrame({"t_ms": t_msg, "user": [f"u{k % n}" for k in range(m)],
                             "n": np.arange(m), "latency_ms": np.round(wait, 3),
                             "channel": [f"c{k % n_channels}" for k in range(m)],
                             "seq": np.arange(m)})
    k = m // 4
    notes = pd.DataFrame({"t_ms": t_msg[:k], "user": [f"u{j}" for j in range(k)],
                          "n": np.arange(k),
                          "latency_ms": np.round(rng.uniform(0, 10_000, k), 3)})
    return messages, notes


def _step_counts(*, n: int, start_ms: int, end_ms: int, polls: int,
                 queue_share: float) -> dict[str, int]:
    """The runner's per-step counts: requests (polls + 25 % others), errors past 20 % queueing."""
    requests = polls * 1.25
    error_rate = max(0.0, queue_share - 0.2) * 0.2
    return {"users": n, "start_ms": start_ms, "end_ms": end_ms,
            "requests": round(requests), "failures": round(requests * error_rate),
            "lost": 0, "duplicated": 0,
            "redis_ops": round(requests * 3), "pg_queries": round(requests * 0.4)}
