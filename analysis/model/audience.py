"""Messages delivered per user: the workload's channel model, not one random draw of it.

A message goes to every member of its sender's channel. Users join one of ``channels``
channels with Zipf-like weights w_i = 1/(i+1)**skew (``loadtests.clients.scenario.
channel_weights``), senders too, so a message's expected audience at N users is
N · Σ p_i² with p_i = w_i / Σ w. The measured deliveries of a step swing 30-45% between
two default runs of the same code (issue 12): with 200 channels at skew 1 the top channel
holds 17% of the users and carries 41-76% of a step's deliveries, and how many of the
~150 messages of an 11 s window land on it (18 vs 44 at 1,000 users) is the luck of
which users drew sender and that channel (an unseeded draw per run) and of Poisson send
times. The cost model takes the expectation; the measured rate stays beside it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_CHANNELS = 200  # pollcap capacity's --channels default, for old meta
DEFAULT_CHANNEL_SKEW = 1.0


def audience_share(*, channels: int, skew: float) -> float:
    """Expected share of all users a message reaches: Σ p_i² over the channel weights."""
    if channels < 1:
        raise ValueError("channels must be >= 1")
    weights = 1.0 / np.arange(1, channels + 1, dtype=np.float64) ** skew
    p = weights / weights.sum()
    return float((p * p).sum())


def expected_deliveries_per_user_s(*, users: ArrayLike, sends_per_user_s: float,
                                   share: float) -> float:
    """Deliveries per user-second pooled over steps of ``users`` (user-weighted, as measured).

    Step i delivers sends · N_i · (N_i · share) per second; pooled over the steps'
    user-seconds that is sends · share · Σ N_i² / Σ N_i (equal windows)."""
    n = np.asarray(users, dtype=np.float64)
    n = n[n > 0]
    if n.size == 0:
        return 0.0
    return float(sends_per_user_s * share * (n * n).sum() / n.sum())


def measured_deliveries_per_user_s(*, users: ArrayLike, deliveries: ArrayLike,
                                   window_s: ArrayLike) -> float:
    """The recorded deliveries per user-second pooled the same way (Σ rate_i / Σ N_i)."""
    n = np.asarray(users, dtype=np.float64)
    rate = np.asarray(deliveries, dtype=np.float64) / np.maximum(
        np.asarray(window_s, dtype=np.float64), 1e-9)
    return float(rate.sum() / n.sum()) if n.sum() > 0 else 0.0
