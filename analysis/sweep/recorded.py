"""``RecordedRun``: what the policy simulator needs from a measured run, as arrays.

Built from a report folder by :mod:`analysis.sweep.from_report`, or synthetically by
:mod:`analysis.synthetic`; evaluated by :mod:`analysis.sweep.simulate`. Frozen: a
derived run (scaled users, a replay) is a ``dataclasses.replace`` of it, and every
memo of the simulation (the seed-cache delays) is held by the caller, not the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.defaults import PLAN_DEFAULTS, SOURCE_CACHE_TTL_S
from analysis.sweep.response import ResponseModel
from analysis.sweep.states import ChannelStates, channel_states

CACHE_MODES = ("seed", "fresh")  # as the service; only the seed cache hides new messages


@dataclass(frozen=True)
class RecordedRun:
    """What the model needs from a measured run (arrays; ms since the epoch or run start).

    ``channel_users[w, c]`` are the users polling channel ``c`` during window ``w``;
    each message is received by the other users of its channel.
    """

    run_id: str
    window_start_ms: np.ndarray
    window_end_ms: np.ndarray
    channel_users: np.ndarray
    message_channel: np.ndarray
    message_created_ms: np.ndarray
    response: ResponseModel
    background_rps: np.ndarray | None = None
    cache_mode: str = "seed"
    cache_ttl_s: float = SOURCE_CACHE_TTL_S
    price_per_million_usd: float = PLAN_DEFAULTS.price_per_million_usd
    meta: dict[str, Any] = field(default_factory=dict)  # the run's meta.json (scenario, ...)
    seed_cache_model: str = "simulated"  # or "analytic": see analysis.sweep.seed_cache
    states: ChannelStates = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = np.asarray(self.window_start_ms, dtype=np.float64)
        ends = np.asarray(self.window_end_ms, dtype=np.float64)
        users = np.asarray(self.channel_users, dtype=np.float64)
        if starts.ndim != 1 or starts.shape != ends.shape or starts.size == 0:
            raise ValueError("window_start_ms and window_end_ms must be equal, non-empty 1-d")
        if np.any(ends <= starts) or np.any(starts[1:] < ends[:-1]):
            raise ValueError("windows must be non-empty, ordered and non-overlapping")
        if users.ndim != 2 or users.shape[0] != starts.size or np.any(users < 0):
            raise ValueError("channel_users must be (windows, channels) and >= 0")
        if self.seed_cache_model not in ("simulated", "analytic"):
            raise ValueError(
                f"seed_cache_model must be simulated or analytic, got {self.seed_cache_model!r}"
            )
        if self.cache_mode not in CACHE_MODES:
            raise ValueError(f"cache_mode must be one of {CACHE_MODES}, got {self.cache_mode!r}")
        bg = np.zeros(starts.size) if self.background_rps is None else self.background_rps
        object.__setattr__(self, "background_rps", np.asarray(bg, dtype=np.float64))
        states = channel_states(
            starts=starts,
            ends=ends,
            users=users,
            message_channel=self.message_channel,
            message_created_ms=self.message_created_ms,
        )
        object.__setattr__(self, "states", states)

    @property
    def stale_ms(self) -> float:
        """Longest time a cached answer can hide a message (0 unless ``seed`` cache mode)."""
        return self.cache_ttl_s * 1000.0 if self.cache_mode == "seed" else 0.0
