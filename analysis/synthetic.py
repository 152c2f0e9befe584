"""A synthetic recorded run: for tests, notebooks and the sweep benchmark.

It has the shape of a capacity run: a ramp of windows (steps) with more users in
each, channels whose sizes spread over two orders of magnitude (a few busy rooms,
many small ones, so user thresholds matter), and Poisson messages whose rate grows
with the channel's users. Seeded; nothing here is measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.model.usl import usl_throughput
from analysis.runs import RunData
from analysis.sweep.response import ResponseModel
from analysis.sweep.simulate import RecordedRun


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
    price_per_million_usd: float = 0.20,
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


def synthetic_capacity_data(
    *,
    run_id: str = "synthetic-capacity",
    users: tuple[int, ...] = (20, 40, 80, 160, 240, 320),
    step_s: float = 30.0,
    interval_ms: float = 2000.0,
    n_channels: int = 10,
    sigma: float = 0.004,
    kappa: float = 1e-5,
    lambda_: float = 1.0,
    base_ms: float = 12.0,
    messages_per_user_per_min: float = 0.6,
    seed: int = 0,
) -> RunData:
    """A step-ramp capacity run as ``pollcap capacity`` would save it (``RunData``).

    Users poll every ``interval_ms`` on a grid in a closed loop; the service's
    throughput follows the USL in users, so past its knee each cycle stretches to
    ``N / X(N)`` and the excess becomes response time. Delivery = wait for the
    receiver's next poll + response time. Seeded; nothing measured.
    """
    rng = np.random.default_rng(seed)
    t0_ms = 1_800_000_000_000
    steps, polls, messages = [], [], []
    for i, n in enumerate(users):
        start, end = t0_ms + i * step_s * 1000, t0_ms + (i + 1) * step_s * 1000
        x_rps = float(usl_throughput(n, sigma=sigma, kappa=kappa, lambda_=lambda_))
        cycle_ms = max(interval_ms, n / x_rps * 1000.0)
        queue_ms = cycle_ms - interval_ms
        per_user = int(step_s * 1000 // cycle_ms)
        t = start + rng.uniform(0, cycle_ms, n)[:, None] + np.arange(per_user) * cycle_ms
        user = np.repeat(np.arange(n), per_user)
        polls.append(
            pd.DataFrame(
                {
                    "t_ms": t.ravel(),
                    "user": [f"u{u}" for u in user],
                    "n": np.tile(np.arange(per_user), n),
                    "latency_ms": np.round(base_ms * rng.lognormal(0, 0.3, t.size) + queue_ms, 3),
                    "channel": [f"c{u % n_channels}" for u in user],
                }
            )
        )
        n_msg = rng.poisson(n * messages_per_user_per_min * step_s / 60)
        channel = rng.integers(0, n_channels, n_msg)
        in_channel = np.bincount(np.arange(n) % n_channels, minlength=n_channels)
        receivers = np.maximum(in_channel[channel] - 1, 0)  # everyone but the sender
        msg = np.repeat(np.arange(n_msg), receivers)
        first = np.repeat(np.cumsum(receivers) - receivers, receivers)
        user = channel[msg] + n_channels * (1 + np.arange(msg.size) - first)
        wait = rng.uniform(0, cycle_ms, msg.size) + base_ms + queue_ms
        messages.append(
            pd.DataFrame(
                {
                    "t_ms": rng.uniform(start, end, n_msg)[msg] + wait,
                    "user": [f"u{u}" for u in user],
                    "n": msg,
                    "latency_ms": np.round(wait, 3),
                    "channel": [f"c{c}" for c in channel[msg]],
                    "seq": i * 100_000 + msg,
                }
            )
        )
        steps.append(
            {
                "users": n,
                "start_ms": int(start),
                "end_ms": int(end),
                "requests": int(t.size * 1.1),
                "failures": 0,
                "lost": 0,
                "duplicated": 0,
            }
        )
    samples = {
        name: pd.concat(frames).sort_values("t_ms", kind="stable").reset_index(drop=True)
        for name, frames in (("poll", polls), ("message", messages))
    }
    for frame in samples.values():
        frame["t_ms"] = np.rint(frame["t_ms"]).astype(np.int64)
    meta = {
        "policy": "fixed-2s",
        "nominal_interval_ms": interval_ms,
        "cache_mode": "fresh",
        "cache_ttl_s": 0,
        "slo_p95_ms": 3000,
        "host": "127.0.0.1 (synthetic)",
    }
    return RunData(run_id=run_id, steps=pd.DataFrame(steps), samples=samples, meta=meta)
