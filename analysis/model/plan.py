"""SLO capacity, scale-out plan and cost: pure functions over the step table.

SLO capacity is read off the measured steps, not the USL curve: the model
describes throughput, the SLO is about latency, and only measurement says
where latency crosses the line. Between the last passing and the first
failing step the crossing is interpolated linearly (p95 and error rate are
both roughly linear in users over one step), and the answer says so.

Plan and cost scale per-user rates measured at the steps that met the SLO.
Shared backends do not scale out with service instances; the plan divides
their projected load by a per-node capacity (defaults below, conservative
figures for one modest node, overridable) to say when they become the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.defaults import SLO_P95_MS  # noqa: E402  (re-exported)

MAX_ERROR_RATE = 0.01
HEADROOM = 0.7
TARGET_USERS: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
PRICE_PER_MILLION_USD = 0.20
SECONDS_PER_MONTH = 30 * 24 * 3600
# One Redis node, simple GET/SET/SCARD/ZADD from many clients: ~100k ops/s is
# a conservative single-thread figure (redis-benchmark reports more).
REDIS_OPS_PER_NODE_S = 100_000.0
# One PostgreSQL primary, indexed point reads/inserts: ~10k queries/s on a
# modest 4-vCPU instance.
PG_QUERIES_PER_NODE_S = 10_000.0
PRICE_ASSUMPTION = (
    "request charge only, AWS-Lambda-like $0.20 per million requests; excludes "
    "compute duration, Redis, PostgreSQL and data transfer"
)


@dataclass(frozen=True, slots=True)
class SloCapacity:
    """Largest user count meeting the SLO; ``status`` says how it was found.

    ``interpolated``: between ``last_pass_users`` and ``first_fail_users``;
    ``never_exceeded``: every step met it, so ``users`` is a lower bound;
    ``never_met``: not even the first step met it (``users`` is None).
    """

    users: float | None
    status: str
    limited_by: str | None
    last_pass_users: int | None
    first_fail_users: int | None
    slo_p95_ms: float
    max_error_rate: float
    message: str


@dataclass(frozen=True, slots=True)
class PerUserRates:
    """Rates per active user, averaged over the steps that met the SLO."""

    requests_s: float
    redis_ops_s: float
    pg_queries_s: float


@dataclass(frozen=True, slots=True)
class PlanRow:
    target_users: int
    instances: int | None
    requests_s: float
    redis_ops_s: float
    pg_queries_s: float
    redis_nodes: int | None
    pg_nodes: int | None
    limit: str
    requests_month: float
    cost_month_usd: float


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


def slo_capacity(
    table: pd.DataFrame, *, slo_p95_ms: float = SLO_P95_MS, max_error_rate: float = MAX_ERROR_RATE
) -> SloCapacity:
    """The SLO capacity of one instance from a step table (``stats.step_table``).

    A step without delivery samples and within the error limit says nothing about
    the SLO (few users, nobody wrote) and is left out; one that errs fails.
    """
    rows = table.sort_values("users", kind="stable").reset_index(drop=True)
    errors_all = rows["error_rate"].fillna(0.0).to_numpy(dtype=np.float64)
    evidence = np.isfinite(rows["delivery_p95_ms"].to_numpy(dtype=np.float64)) | (
        errors_all > max_error_rate)
    skipped = [int(u) for u in rows.loc[~evidence, "users"]]
    rows = rows[evidence].reset_index(drop=True)
    users = rows["users"].to_numpy(dtype=np.float64)
    p95 = rows["delivery_p95_ms"].to_numpy(dtype=np.float64)
    errors = errors_all[evidence]
    passes = (p95 <= slo_p95_ms) & (errors <= max_error_rate)
    args = dict(slo_p95_ms=slo_p95_ms, max_error_rate=max_error_rate)
    note = f" ({_users(skipped)} users: no delivery samples, ignored)" if skipped else ""
    if len(rows) == 0 or not passes[0]:
        first = int(users[0]) if len(rows) else None
        limited_by = None if first is None else (
            "error rate" if errors[0] > max_error_rate else "p95 delivery")
        return SloCapacity(users=None, status="never_met", limited_by=limited_by,
                           last_pass_users=None, first_fail_users=first,
                           message=_never_met(users) + note, **args)
    fail = int(np.argmin(passes)) if not passes.all() else None
    if fail is None:
        return SloCapacity(
            users=float(users[-1]), status="never_exceeded", limited_by=None,
            last_pass_users=int(users[-1]), first_fail_users=None,
            message=f"One instance holds at least {int(users[-1])} users: the SLO held at every "
                    f"step and the ramp never reached the limit{note}", **args)
    lo, hi = fail - 1, fail
    crossings = {"p95 delivery": _cross(users[lo], users[hi], p95[lo], p95[hi], slo_p95_ms),
                 "error rate": _cross(users[lo], users[hi], errors[lo], errors[hi], max_error_rate)}
    limited_by = min(crossings, key=lambda k: crossings[k])
    capacity = math.floor(crossings[limited_by])
    return SloCapacity(
        users=float(capacity), status="interpolated", limited_by=limited_by,
        last_pass_users=int(users[lo]), first_fail_users=int(users[hi]),
        message=f"One instance holds ~{capacity} users (interpolated between {int(users[lo])} "
                f"and {int(users[hi])} users; limited by {limited_by}){note}", **args)


def _users(users: list[int]) -> str:
    return ", ".join(str(u) for u in users)


def per_user_rates(table: pd.DataFrame, *, capacity: SloCapacity) -> PerUserRates:
    """User-weighted rates over the steps at or below the SLO capacity (all steps if none)."""
    rows = table
    if capacity.last_pass_users is not None:
        rows = table[table["users"] <= capacity.last_pass_users]
    users = rows["users"].to_numpy(dtype=np.float64)
    def rate(col: str) -> float:
        values = rows[col].to_numpy(dtype=np.float64) if col in rows else np.full(len(rows), np.nan)
        keep = np.isfinite(values) & (users > 0)
        return float(values[keep].sum() / users[keep].sum()) if keep.any() else float("nan")
    return PerUserRates(requests_s=rate("rps"), redis_ops_s=rate("redis_ops_s"),
                        pg_queries_s=rate("pg_queries_s"))


def scale_out_plan(
    *,
    capacity: SloCapacity,
    rates: PerUserRates,
    targets: Sequence[int] = TARGET_USERS,
    headroom: float = HEADROOM,
    redis_ops_per_node_s: float = REDIS_OPS_PER_NODE_S,
    pg_queries_per_node_s: float = PG_QUERIES_PER_NODE_S,
    price_per_million_usd: float = PRICE_PER_MILLION_USD,
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
        f"cost: {PRICE_ASSUMPTION}; 30-day month, every user active all month",
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
    requests_s = target * rates.requests_s
    redis_s, pg_s = target * rates.redis_ops_s, target * rates.pg_queries_s
    redis_nodes = _nodes(redis_s, redis_cap * headroom)
    pg_nodes = _nodes(pg_s, pg_cap * headroom)
    limits = [name for name, nodes in (("Redis", redis_nodes), ("PostgreSQL", pg_nodes))
              if nodes is not None and nodes > 1]
    requests_month = requests_s * SECONDS_PER_MONTH
    return PlanRow(
        target_users=target,
        instances=math.ceil(target / per_instance) if per_instance else None,
        requests_s=requests_s, redis_ops_s=redis_s, pg_queries_s=pg_s,
        redis_nodes=redis_nodes, pg_nodes=pg_nodes,
        limit=" + ".join(f"{name} beyond one node" for name in limits) or "service instances",
        requests_month=requests_month,
        cost_month_usd=requests_month / 1e6 * price,
    )


def _nodes(load: float, per_node: float) -> int | None:
    return max(1, math.ceil(load / per_node)) if math.isfinite(load) else None


def _cross(u0: float, u1: float, v0: float, v1: float, limit: float) -> float:
    """Users where a metric rising from v0 to v1 crosses ``limit``; u1 if it never does.

    A metric without data (NaN) did not make the step fail: it never crosses (inf).
    """
    if not (np.isfinite(v0) and np.isfinite(v1)):
        return math.inf
    if v1 <= limit:
        return u1
    if v1 == v0:
        return u0
    return u0 + (limit - v0) / (v1 - v0) * (u1 - u0)


def _never_met(users: np.ndarray) -> str:
    if len(users) == 0:
        return "No step has delivery samples"
    return f"The SLO is not met even at the first step ({int(users[0])} users)"

