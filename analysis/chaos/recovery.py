"""Timelines and time to recover (pure functions over sample arrays; times in epoch ms).

*Recovered* means the first 1 s window after healing in which

* the share of requests that succeeded is >= 99% of the pre-fault share, and
* the p95 delivery latency is <= 2x the pre-fault p95 (windows without deliveries
  pass this part; windows without requests never count as recovered),

so a service that answers again but still delivers the backlog of the fault late has
not recovered yet. The time to recover is measured from healing to the *end* of that
window (the moment the rule can tell), so it is at least 1 s. The pre-fault baseline
is the steady stretch right before the fault starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WINDOW_MS = 1000
SUCCESS_SHARE = 0.99
DELIVERY_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class Requests:
    """Every request that ended: when (ms), whether it succeeded, how long it took (ms)."""

    t_ms: np.ndarray
    ok: np.ndarray
    latency_ms: np.ndarray

    @classmethod
    def of(cls, t_ms: object, ok: object, latency_ms: object) -> Requests:
        t = np.asarray(t_ms, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return cls(
            t_ms=t[order],
            ok=np.asarray(ok, dtype=bool)[order],
            latency_ms=np.asarray(latency_ms, dtype=np.float64)[order],
        )


@dataclass(frozen=True, slots=True)
class Deliveries:
    """Every delivery: receive time (ms) and delivery latency (ms)."""

    t_ms: np.ndarray
    latency_ms: np.ndarray

    @classmethod
    def of(cls, t_ms: object, latency_ms: object) -> Deliveries:
        t = np.asarray(t_ms, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return cls(t_ms=t[order], latency_ms=np.asarray(latency_ms, dtype=np.float64)[order])


@dataclass(frozen=True, slots=True)
class Baseline:
    """The steady state a fault is measured against."""

    success_ratio: float | None
    requests_per_s: float
    delivery_p95_ms: float | None


@dataclass(frozen=True, slots=True)
class RecoveryRule:
    window_ms: int = WINDOW_MS
    success_share: float = SUCCESS_SHARE
    delivery_factor: float = DELIVERY_FACTOR


def _between(t_ms: np.ndarray, start_ms: float, end_ms: float) -> slice:
    lo, hi = np.searchsorted(t_ms, [start_ms, end_ms], side="left")
    return slice(int(lo), int(hi))


def _p95(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 95)) if values.size else None


def baseline(
    *, requests: Requests, deliveries: Deliveries, start_ms: float, end_ms: float
) -> Baseline:
    """Success share, request rate and p95 delivery over ``[start_ms, end_ms)``."""
    req = _between(requests.t_ms, start_ms, end_ms)
    ok = requests.ok[req]
    span_s = max((end_ms - start_ms) / 1000.0, 1e-9)
    return Baseline(
        success_ratio=float(ok.mean()) if ok.size else None,
        requests_per_s=ok.size / span_s,
        delivery_p95_ms=_p95(deliveries.latency_ms[_between(deliveries.t_ms, start_ms, end_ms)]),
    )


def window_recovered(
    *, requests: Requests, deliveries: Deliveries, start_ms: float, base: Baseline,
    rule: RecoveryRule = RecoveryRule(),
) -> bool:
    """Does the window ``[start_ms, start_ms + rule.window_ms)`` meet the recovery rule?"""
    end_ms = start_ms + rule.window_ms
    ok = requests.ok[_between(requests.t_ms, start_ms, end_ms)]
    if not ok.size:
        return False
    if float(ok.mean()) < rule.success_share * (base.success_ratio or 1.0):
        return False
    p95 = _p95(deliveries.latency_ms[_between(deliveries.t_ms, start_ms, end_ms)])
    if p95 is None or base.delivery_p95_ms is None:
        return True
    return p95 <= rule.delivery_factor * base.delivery_p95_ms


def time_to_recover_s(
    *, requests: Requests, deliveries: Deliveries, heal_ms: float, until_ms: float,
    base: Baseline, rule: RecoveryRule = RecoveryRule(),
) -> float | None:
    """Seconds from healing to the end of the first recovered window; None if none by
    ``until_ms`` (the next fault, or the end of the swarm)."""
    start_ms = heal_ms
    while start_ms + rule.window_ms <= until_ms:
        if window_recovered(
            requests=requests, deliveries=deliveries, start_ms=start_ms, base=base, rule=rule
        ):
            return (start_ms + rule.window_ms - heal_ms) / 1000.0
        start_ms += rule.window_ms
    return None


def longest_ms(requests: Requests, *, start_ms: float, end_ms: float) -> float:
    """The longest request that *ended* in ``[start_ms, end_ms)`` (0 when none)."""
    latency = requests.latency_ms[_between(requests.t_ms, start_ms, end_ms)]
    return float(latency.max()) if latency.size else 0.0


def timeline(*, requests: Requests, deliveries: Deliveries, t0_ms: float) -> pd.DataFrame:
    """Per second since ``t0_ms``: requests, errors, p95 request and p95 delivery (ms)."""
    req = pd.DataFrame(
        {
            "second": np.floor((requests.t_ms - t0_ms) / 1000.0).astype(np.int64),
            "error": ~requests.ok,
            "latency_ms": requests.latency_ms,
        }
    )
    dl = pd.DataFrame(
        {
            "second": np.floor((deliveries.t_ms - t0_ms) / 1000.0).astype(np.int64),
            "latency_ms": deliveries.latency_ms,
        }
    )
    last = int(max(req["second"].max() if len(req) else 0, dl["second"].max() if len(dl) else 0))
    seconds = pd.RangeIndex(0, last + 1, name="second")
    grouped = req[req["second"] >= 0].groupby("second")
    out = pd.DataFrame(index=seconds)
    out["requests"] = grouped.size().reindex(seconds, fill_value=0)
    out["errors"] = grouped["error"].sum().reindex(seconds, fill_value=0).astype(np.int64)
    out["request_p95_ms"] = grouped["latency_ms"].quantile(0.95).reindex(seconds)
    dgroup = dl[dl["second"] >= 0].groupby("second")["latency_ms"]
    out["delivery_p95_ms"] = dgroup.quantile(0.95).reindex(seconds)
    return out.reset_index()
