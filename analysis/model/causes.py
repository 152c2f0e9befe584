"""Why delivery latency sits above the polling floor, step by step.

A poller with interval T (the policy's nominal interval when it is fixed, else
the interval measured between a user's polls) sees a new message after a uniformly distributed
wait in [0, T) plus the response time, so the floor of the *median* delivery
latency is T/2 + median response time (the max is T + response time). A step
whose median is well above it has a cause the report must name:

* **overload**: the service (or the load generator) cannot keep up: CPU near
  saturation, response times far above the lightest step, errors, or polls
  arriving later than their interval;
* **cache staleness**: the service is healthy but the response for a cursor
  is cached (the source design's ``EX 5``), so a message created while the
  entry is fresh stays hidden until it expires: up to the TTL extra (an excess
  beyond the TTL is left "unexplained" rather than blamed on the cache).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

EXCESS_TOLERANCE = 1.2  # median within 20% of the floor counts as "at the floor"
EXCESS_MIN_MS = 50.0
BELOW_FLOOR_FACTOR = 0.8  # a median under 80% of the floor breaks its uniform-arrival premise
CPU_BUSY_PERCENT = 85.0
SLOWDOWN_FACTOR = 3.0
LATE_POLL_FACTOR = 1.2


@dataclass(frozen=True, slots=True)
class StepCause:
    users: int
    interval_ms: float
    floor_p50_ms: float
    delivery_p50_ms: float
    excess_ms: float
    cause: str  # at floor, below floor, overload, cache staleness, unexplained, no data
    evidence: str


def diagnose(
    table: pd.DataFrame,
    *,
    cache_ttl_s: float | None,
    nominal_interval_ms: float | None = None,
    cpu_busy_percent: float = CPU_BUSY_PERCENT,
) -> list[StepCause]:
    """One verdict per step of a step table (``stats.step_table``)."""
    rows = table.sort_values("users", kind="stable")
    baseline_p95 = _first_finite(rows["req_p95_ms"])
    return [_step_cause(row, baseline_p95=baseline_p95, cache_ttl_s=cache_ttl_s,
                 nominal_interval_ms=nominal_interval_ms, cpu_busy=cpu_busy_percent)
            for row in rows.to_dict("records")]


def summarize(causes: list[StepCause]) -> str:
    """One sentence naming the causes found across the run."""
    if all(c.cause == "no data" for c in causes):
        return "No step has both poll and delivery samples: the polling floor cannot be checked."
    above = [c for c in causes if c.cause not in ("at floor", "below floor", "no data")]
    if not above:
        return "Delivery latency stays at the polling floor (T/2 + response time) at every step."
    by_cause: dict[str, list[int]] = {}
    for c in above:
        by_cause.setdefault(c.cause, []).append(c.users)
    parts = [f"{cause} at {_users(users)} users" for cause, users in by_cause.items()]
    return "Delivery latency is above the polling floor: " + "; ".join(parts) + "."


def _step_cause(row: dict, *, baseline_p95: float, cache_ttl_s: float | None,
         nominal_interval_ms: float | None, cpu_busy: float) -> StepCause:
    interval_ms = nominal_interval_ms or row.get("poll_interval_ms", math.nan)
    floor_ms = interval_ms / 2.0 + row.get("req_p50_ms", math.nan)
    median_ms = row.get("delivery_p50_ms", math.nan)
    excess = median_ms - floor_ms

    def verdict(cause: str, evidence: str) -> StepCause:
        return StepCause(users=int(row["users"]), interval_ms=interval_ms, floor_p50_ms=floor_ms,
                         delivery_p50_ms=median_ms, excess_ms=excess, cause=cause,
                         evidence=evidence)

    if not math.isfinite(excess):
        return verdict("no data", "no poll or delivery samples in the steady window")
    if median_ms < floor_ms * BELOW_FLOOR_FACTOR:
        return verdict("below floor",
                       f"median {median_ms:.0f} ms < floor {floor_ms:.0f} ms: messages are not "
                       "created independently of the receivers' polls (users polling in step?)")
    if median_ms <= floor_ms * EXCESS_TOLERANCE or excess <= EXCESS_MIN_MS:
        return verdict("at floor", f"median {median_ms:.0f} ms vs floor {floor_ms:.0f} ms")
    overload = _overload_evidence(row, baseline_p95=baseline_p95,
                                  nominal_interval_ms=nominal_interval_ms, cpu_busy=cpu_busy)
    if overload:
        return verdict("overload", "; ".join(overload))
    if cache_ttl_s and excess <= cache_ttl_s * 1000.0:
        return verdict("cache staleness",
                       f"service healthy, +{excess:.0f} ms over the floor, within the "
                       f"{cache_ttl_s:g} s response cache TTL that hides new messages")
    cache = f"more than the {cache_ttl_s:g} s cache TTL" if cache_ttl_s else "no cache"
    return verdict("unexplained", f"+{excess:.0f} ms with {cache} and no overload signal; "
                                  "check clocks and writer lag")


def _overload_evidence(row: dict, *, baseline_p95: float, nominal_interval_ms: float | None,
                       cpu_busy: float) -> list[str]:
    evidence = []
    cpu = row.get("cpu_percent", math.nan)
    if math.isfinite(cpu) and cpu >= cpu_busy:
        evidence.append(f"service CPU {cpu:.0f}%")
    p95 = row.get("req_p95_ms", math.nan)
    if math.isfinite(p95) and math.isfinite(baseline_p95) and p95 > SLOWDOWN_FACTOR * baseline_p95:
        evidence.append(f"request p95 {p95:.0f} ms vs {baseline_p95:.0f} ms at the lightest step")
    error_rate = row.get("error_rate", math.nan)
    if math.isfinite(error_rate) and error_rate > 0.01:
        evidence.append(f"error rate {error_rate:.1%}")
    interval = row.get("poll_interval_ms", math.nan)
    late_ms = LATE_POLL_FACTOR * (nominal_interval_ms or math.inf)
    if math.isfinite(interval) and interval > late_ms:
        evidence.append(f"polls every {interval:.0f} ms instead of {nominal_interval_ms:.0f} ms")
    return evidence


def _first_finite(values: pd.Series) -> float:
    finite = values[values.notna()]
    return float(finite.iloc[0]) if len(finite) else math.nan


def _users(users: list[int]) -> str:
    return ", ".join(str(u) for u in users)
