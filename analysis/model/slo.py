"""SLO capacity of one instance: the largest user count meeting the latency SLO.

SLO capacity is read off the measured steps, not the USL curve: the model
describes throughput, the SLO is about latency, and only measurement says
where latency crosses the line. Between the last passing and the first
failing step the crossing is interpolated linearly (p95 and error rate are
both roughly linear in users over one step), and the answer says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS
from analysis.model.generator import SCHEDULE_HELD_RATIO

MAX_SHORTFALL = 1.0 - SCHEDULE_HELD_RATIO  # polls below 95 % of schedule: the step fails


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


def meets_slo(table: pd.DataFrame, *, slo_p95_ms: float, max_error_rate: float) -> pd.Series:
    """Per step: p95 delivery within the SLO (or no delivery sample), errors within the
    limit, and the users on their poll schedule (``schedule_shortfall`` at most
    ``MAX_SHORTFALL`` where the table has it)."""
    p95 = pd.to_numeric(table["delivery_p95_ms"], errors="coerce")
    errors = pd.to_numeric(table["error_rate"], errors="coerce").fillna(0.0)
    short = (pd.to_numeric(table["schedule_shortfall"], errors="coerce")
             if "schedule_shortfall" in table else pd.Series(math.nan, index=table.index))
    on_schedule = ~(short > MAX_SHORTFALL)
    return (p95.isna() | (p95 <= slo_p95_ms)) & (errors <= max_error_rate) & on_schedule


def slo_capacity(
    table: pd.DataFrame, *, slo_p95_ms: float = PLAN_DEFAULTS.slo_p95_ms,
    max_error_rate: float = PLAN_DEFAULTS.max_error_rate,
) -> SloCapacity:
    """The SLO capacity of one instance from a step table (``stats.step_table``).

    A step without delivery samples and within the error limit says nothing about
    the SLO (few users, nobody wrote) and is left out; one that errs fails. So does one
    whose users fell short of their poll schedule (``schedule_shortfall`` over
    ``MAX_SHORTFALL``, :func:`analysis.model.generator.with_schedule_shortfall`; a
    table without that column judges p95 and errors only).
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
    short = (rows["schedule_shortfall"].to_numpy(dtype=np.float64)
             if "schedule_shortfall" in rows else np.full(len(rows), math.nan))
    passes = meets_slo(rows, slo_p95_ms=slo_p95_ms, max_error_rate=max_error_rate).to_numpy()
    args = dict(slo_p95_ms=slo_p95_ms, max_error_rate=max_error_rate)
    note = f" ({_users(skipped)} users: no delivery samples, ignored)" if skipped else ""
    if len(rows) == 0 or not passes[0]:
        first = int(users[0]) if len(rows) else None
        limited_by = None if first is None else (
            "error rate" if errors[0] > max_error_rate else
            "poll schedule" if short[0] > MAX_SHORTFALL else "p95 delivery")
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
                 "error rate": _cross(users[lo], users[hi], errors[lo], errors[hi], max_error_rate),
                 "poll schedule": _cross(users[lo], users[hi], short[lo], short[hi],
                                         MAX_SHORTFALL)}
    limited_by = min(crossings, key=lambda k: crossings[k])
    capacity = math.floor(crossings[limited_by])
    return SloCapacity(
        users=float(capacity), status="interpolated", limited_by=limited_by,
        last_pass_users=int(users[lo]), first_fail_users=int(users[hi]),
        message=f"One instance holds ~{capacity} users (interpolated between {int(users[lo])} "
                f"and {int(users[hi])} users; limited by {limited_by}){note}", **args)


def _users(users: list[int]) -> str:
    return ", ".join(str(u) for u in users)



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

