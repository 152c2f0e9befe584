"""What-if: instances and cost of each interval policy at larger user counts.

Scale-out adds channels, not bigger channels: the per-user request rate a policy
causes on the recorded run (channel sizes as measured) stays the same, and each
instance is planned at ``headroom`` of the recorded capacity, so its load and its
delivery latency stay what the simulator predicted at that load. Cost here is the
request charge at the run's price per million (as in :mod:`analysis.model.plan`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS
from analysis.model.cost import cost_per_month_usd
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.simulate import evaluate_policies
from target_service.policy import ThresholdPolicy


def mean_users(run: RecordedRun) -> float:
    """Time-weighted mean of the run's polling users."""
    per_window = run.channel_users.sum(axis=1)
    dur = run.states.window_s
    return float(per_window @ dur / dur.sum())


def policy_scale_out(
    run: RecordedRun,
    policies: Sequence[ThresholdPolicy],
    *,
    targets: Sequence[int] = PLAN_DEFAULTS.target_users,
    headroom: float = PLAN_DEFAULTS.headroom,
) -> pd.DataFrame:
    """One row per (policy, target users): requests/s, instances, cost per month, p95."""
    if not 0 < headroom <= 1:
        raise ValueError("headroom must be in (0, 1]")
    table = evaluate_policies(run, policies)
    per_user_rps = table["requests_per_s"].to_numpy() / mean_users(run)
    per_instance_rps = run.response.capacity_rps * headroom
    price = run.price_per_million_usd
    rows = []
    for (name, p95, saturated), rate in zip(
        table[["name", "delivery_p95_ms", "saturated"]].itertuples(index=False),
        per_user_rps,
        strict=True,
    ):
        for users in targets:
            total_rps = users * rate
            rows.append(
                {
                    "policy": name,
                    "target_users": users,
                    "requests_per_s": total_rps,
                    "instances": math.ceil(total_rps / per_instance_rps),
                    "cost_per_month_usd": float(
                        cost_per_month_usd(total_rps, price_per_million_usd=price)
                    ),
                    "delivery_p95_ms_at_recorded_load": p95 if not saturated else np.inf,
                }
            )
    return pd.DataFrame(rows)
