"""Service demand D from every clean step: the utilization law's regression, not one step.

The utilization law says a step's CPU (in cores) is U_i = X_i · D. Over the clean busy
steps (``bound.demand_bound`` picks them) D is the least-squares slope through the
origin of U on X, D = Σ U_i·X_i / Σ X_i²: total CPU against completed requests, with
the busy steps (largest X, least relative noise, nearest the bound) weighing most.
One step no longer sets the bound alone: two default runs of the same code put it at
1,509 and 1,380 requests/s (8.6% apart), each from its own least-demand step.

The interval resamples the steps (bootstrap over the clean steps, fixed seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DEMAND_BOOTSTRAP = 2000
DEMAND_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class DemandEstimate:
    """D in CPU-seconds per request, its bootstrap interval and the steps it rests on."""

    demand_s: float
    interval_s: tuple[float, float] | None  # None with a single step
    n_steps: int


def utilization_slope_s(*, requests_per_s: ArrayLike, cpu_cores: ArrayLike) -> float:
    """D = Σ U·X / Σ X²: the least-squares slope through the origin (U in cores)."""
    x = np.asarray(requests_per_s, dtype=float)
    u = np.asarray(cpu_cores, dtype=float)
    if x.size == 0 or not np.any(x > 0):
        raise ValueError("no step with requests")
    return float(np.sum(u * x) / np.sum(x * x))


def estimate_demand(*, requests_per_s: ArrayLike, cpu_cores: ArrayLike,
                    bootstrap: int = DEMAND_BOOTSTRAP, seed: int = 0,
                    confidence: float = DEMAND_CONFIDENCE) -> DemandEstimate:
    """The regression's D over the given steps with a step-resampling interval."""
    x = np.asarray(requests_per_s, dtype=float)
    u = np.asarray(cpu_cores, dtype=float)
    d_s = utilization_slope_s(requests_per_s=x, cpu_cores=u)
    if x.size < 2 or bootstrap <= 0:
        return DemandEstimate(demand_s=d_s, interval_s=None, n_steps=int(x.size))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, x.size, size=(bootstrap, x.size))
    xs, us = x[picks], u[picks]
    draws = np.sum(us * xs, axis=1) / np.sum(xs * xs, axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(draws, [tail, 100.0 - tail])
    return DemandEstimate(demand_s=d_s, interval_s=(float(lo), float(hi)), n_steps=int(x.size))
