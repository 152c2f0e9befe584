"""Scale-out plan: instances, backend load and cost for each growth step.

The plan scales per-user rates measured at the steps that met the SLO.
Shared backends do not scale out with service instances; the plan divides
their projected load by a per-node capacity (defaults below, conservative
figures for one modest node, overridable) to say when they become the limit.
The SLO capacity it starts from is :func:`analysis.model.slo.slo_capacity`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS
from analysis.model.cost import cost_per_month_usd, price_assumption, requests_per_month
from analysis.model.slo import SloCapacity

# One Redis node, simple GET/SET/SCARD/ZADD from many clients: ~100k ops/s is
# a conservative single-thread figure (redis-benchmark reports more).
REDIS_OPS_PER_NODE_S = 100_000.0
# One PostgreSQL primary, indexed point reads/inserts: ~10k queries/s on a
# modest 4-vCPU instance.
PG_QUERIES_PER_NODE_S = 10_000.0


@dataclass(frozen=True, slots=True)
class PerUserRates:
    """Rates per active user, averaged over the steps that met the SLO."""

    requests_per_s: float
    redis_ops_per_s: float
    pg_queries_per_s: float


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One target's plan. ``instances`` is ``instances_exact`` rounded up: the count to
    deploy. The continuous figure is what two runs can agree on (10.7 and 11.1 instances'
    worth are 3.7 % apart; rounded up, 11 and 12 are 9.1 %), so the report shows both and
    compares the continuous one."""

    target_users: int
    instances: int | None
    requests_per_s: float
    redis_ops_per_s: float
    pg_queries_per_s: float
    redis_nodes: int | None
    pg_nodes: int | None
    limit: str
    requests_per_month: float
    cost_per_month_usd: float
    instances_exact: float | None = None  # target / users per instance, before rounding up


@dataclass(frozen=True, slots=True)
class Plan:
    rows: list[PlanRow]
    users_per_instance: float | None
    headroom: float
    rates: PerUserRates
    redis_ops_per_node_s: float
    pg_queries_per_node_s: float
    price_per_million_usd: float
    assumptions: list[str] = field(default_factory=list)


def per_user_rates(table: pd.DataFrame, *, capacity: SloCapacity,
                   held: pd.Series | None = None) -> PerUserRates:
    """User-weighted rates over the steps at or below the SLO capacity (all steps if none).

    ``held`` (``generator.schedule_held``) narrows them to the steps whose users kept
    their poll schedule, when there is one: a step near saturation throttles its users,
    so its requests per user say how busy the service was, not what the users ask for."""
    rows = table
    if capacity.last_pass_users is not None:
        rows = table[table["users"] <= capacity.last_pass_users]
    if held is not None:
        kept = rows[held.reindex(rows.index, fill_value=False)]
        rows = kept if len(kept) else rows
    users = rows["users"].to_numpy(dtype=np.float64)

    def rate(col: str) -> float:
        values = rows[col].to_numpy(dtype=np.float64) if col in rows else np.full(len(rows), np.nan)
        keep = np.isfinite(values) & (users > 0)
        return float(values[keep].sum() / users[keep].sum()) if keep.any() else float("nan")

    return PerUserRates(requests_per_s=rate("requests_per_s"),
                        redis_ops_per_s=rate("redis_ops_per_s"),
                        pg_queries_per_s=rate("pg_queries_per_s"))


def scale_out_plan(
    *,
    capacity: SloCapacity,
    rates: PerUserRates,
    targets: Sequence[int] = PLAN_DEFAULTS.target_users,
    headroom: float = PLAN_DEFAULTS.headroom,
    redis_ops_per_node_s: float = REDIS_OPS_PER_NODE_S,
    pg_queries_per_node_s: float = PG_QUERIES_PER_NODE_S,
    price_per_million_usd: float = PLAN_DEFAULTS.price_per_million_usd,
) -> Plan:
    """Instances, backend load and monthly cost for each target user count."""
    if not 0 < headroom <= 1:
        raise ValueError("headroom must be in (0, 1]")
    per_instance = capacity.users * headroom if capacity.users else None
    rows = [_plan_row(target, per_instance=per_instance, rates=rates, headroom=headroom,
                      redis_cap=redis_ops_per_node_s, pg_cap=pg_queries_per_node_s,
                      price=price_per_million_usd) for target in targets]
    assumptions = [
        f"instances run at {headroom:.0%} of the measured SLO capacity",
        f"one Redis node serves {redis_ops_per_node_s:,.0f} ops/s, one PostgreSQL node "
        f"{pg_queries_per_node_s:,.0f} queries/s, both at the same headroom",
        f"cost: {price_assumption(price_per_million_usd)}; 30-day month, every user active "
        "all month",
    ]
    if capacity.status == "never_exceeded":
        assumptions.append("SLO capacity is a lower bound (never exceeded), so instance counts "
                           "are upper bounds")
    return Plan(rows=rows, users_per_instance=per_instance, headroom=headroom, rates=rates,
                redis_ops_per_node_s=redis_ops_per_node_s,
                pg_queries_per_node_s=pg_queries_per_node_s,
                price_per_million_usd=price_per_million_usd, assumptions=assumptions)


def _plan_row(target: int, *, per_instance: float | None, rates: PerUserRates, headroom: float,
              redis_cap: float, pg_cap: float, price: float) -> PlanRow:
    requests_s = target * rates.requests_per_s
    redis_s, pg_s = target * rates.redis_ops_per_s, target * rates.pg_queries_per_s
    redis_nodes = _nodes(redis_s, redis_cap * headroom)
    pg_nodes = _nodes(pg_s, pg_cap * headroom)
    limits = [name for name, nodes in (("Redis", redis_nodes), ("PostgreSQL", pg_nodes))
              if nodes is not None and nodes > 1]
    exact = target / per_instance if per_instance else None
    return PlanRow(
        target_users=target,
        instances=None if exact is None else math.ceil(exact), instances_exact=exact,
        requests_per_s=requests_s, redis_ops_per_s=redis_s, pg_queries_per_s=pg_s,
        redis_nodes=redis_nodes, pg_nodes=pg_nodes,
        limit=" + ".join(f"{name} beyond one node" for name in limits) or "service instances",
        requests_per_month=float(requests_per_month(requests_s)),
        cost_per_month_usd=float(cost_per_month_usd(requests_s, price_per_million_usd=price)),
    )


def _nodes(load: float, per_node: float) -> int | None:
    return max(1, math.ceil(load / per_node)) if math.isfinite(load) else None
