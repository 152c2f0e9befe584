"""A synthetic recorded run: for tests, notebooks and the sweep benchmark.

It has the shape of a capacity run: a ramp of windows (steps) with more users in
each, channels whose sizes spread over two orders of magnitude (a few busy rooms,
many small ones, so user thresholds matter), and Poisson messages whose rate grows
with the channel's users. Seeded; nothing here is measured.
"""

from __future__ import annotations

import numpy as np

from analysis.response_model import ResponseModel
from analysis.simulate import RecordedRun


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
    cache_mode: str = "seed",
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
