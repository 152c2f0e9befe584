"""The utilization law beside the USL: no throughput beyond what the cores can serve.

Per step the service demand is D = CPU-seconds per request = (CPU% / 100) / X, with
CPU% summed over the service's processes (100 = one core) and X its requests/s.
The utilization law U = X·D with U ≤ cores gives the bound X ≤ cores / D. A USL fit
knows nothing of it: fitted on a ramp that never turned down it puts N* and X(N*)
far past what the CPU can do (issue 12: X(N*) = 6,078 req/s against a bound of
~2,720 req/s at 367 µs per request on one core).

D is the utilization law's regression over every clean busy step (``demand``: CPU
against completed requests, ≥ ``MIN_BUSY_FRACTION`` of the cores, errors within the
limit), with a bootstrap interval over the steps; no single step sets it. A measured
step must stay within ``BOUND_TOLERANCE`` × cores / D: where one would not (its own
demand well under the regression's at full CPU), D is lowered just enough to keep it
within, and ``users`` names that step.

Figures at user counts beyond the largest measured step are extrapolations and
carry ``extrapolated=True``; a figure the bound cuts carries ``bounded=True``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.model.demand import estimate_demand
from analysis.model.usl import UslFit

MIN_BUSY_FRACTION = 0.10  # steps under 10% of the cores: CPU too small to read a demand from
BOUND_TOLERANCE = 1.05  # a measured step may exceed cores / D by sampling noise up to 5%


@dataclass(frozen=True, slots=True)
class DemandBound:
    """X ≤ cores / D (None without CPU data); ``users``: the step that capped D, if one did."""

    cores: float
    demand_s: float | None
    max_requests_per_s: float | None
    users: int | None
    note: str
    n_steps: int = 0  # clean busy steps the regression rests on
    demand_interval_s: tuple[float, float] | None = None
    max_requests_interval: tuple[float, float] | None = None
    # requests/s per user pooled over the same clean steps (Little's law: N = X / rate)
    requests_per_user_s: float | None = None

    @property
    def demand_us(self) -> float | None:
        return None if self.demand_s is None else self.demand_s * 1e6


@dataclass(frozen=True, slots=True)
class BoundedFigure:
    """One model figure with its provenance, as cards, tables and JSON show it."""

    value: float | None
    extrapolated: bool
    bounded: bool
    label: str
    # the fit's bootstrap 95% interval of the same capped figure (None without samples);
    # the USL part repeats badly between runs (issue 12), so its width is shown with it
    interval: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class BoundedUsl:
    """The USL's peak after the bound: where the curve meets cores / D, if before N*."""

    peak_users: BoundedFigure
    peak_requests_per_s: BoundedFigure
    max_measured_users: int
    bound: DemandBound


def step_demand_s(table: pd.DataFrame) -> pd.Series:
    """Service demand per step in CPU-seconds per request (NaN without CPU or requests)."""
    cpu = pd.to_numeric(table.get("cpu_percent"), errors="coerce")
    rps = pd.to_numeric(table.get("requests_per_s"), errors="coerce")
    if cpu is None or rps is None:
        return pd.Series(np.nan, index=table.index)
    demand = (cpu / 100.0) / rps.where(rps > 0)
    return demand.where(np.isfinite(demand) & (demand > 0))


def demand_bound(table: pd.DataFrame, *, cores: float, max_error_rate: float | None = None,
                 held: pd.Series | None = None) -> DemandBound:
    """The utilization-law bound from a step table (``stats.step_table``) on ``cores``.

    With ``max_error_rate`` the demand is read from the busy steps whose errors stay
    within it, when there is one: a step failing more counts its failures (fast 503s) as
    requests, so its CPU per request is too low and changes from run to run (two default
    runs of the same code: 642 and 474 µs, both from such a step)."""
    if cores <= 0:
        raise ValueError("cores must be > 0")
    demand = step_demand_s(table)
    cpu = pd.to_numeric(table.get("cpu_percent", pd.Series(np.nan, index=table.index)),
                        errors="coerce")
    busy = demand.notna() & (cpu >= MIN_BUSY_FRACTION * cores * 100.0)
    if max_error_rate is not None and "error_rate" in table:
        errors = pd.to_numeric(table["error_rate"], errors="coerce").fillna(0.0)
        clean = busy & (errors <= max_error_rate)
        busy = clean if clean.any() else busy
    if not busy.any():
        return DemandBound(cores=cores, demand_s=None, max_requests_per_s=None, users=None,
                           note="no step with service CPU >= "
                                f"{MIN_BUSY_FRACTION:.0%} of {cores:g} core(s): no bound")
    rps = pd.to_numeric(table["requests_per_s"], errors="coerce")
    # requests per user from the busy steps whose users kept their schedule (as the plan's)
    kept = busy & held.reindex(table.index, fill_value=False) if held is not None else busy
    per_user = pooled_requests_per_user_s(table[kept if kept.any() else busy])
    est = estimate_demand(requests_per_s=rps[busy].to_numpy(),
                          cpu_cores=(cpu[busy] / 100.0).to_numpy())
    d_s, users = est.demand_s, None
    # every measured step within the tolerance: X_i ≤ 1.05 · cores / D
    fastest = rps[rps.notna()].idxmax()
    ceiling_s = BOUND_TOLERANCE * cores / float(rps[fastest])
    if d_s > ceiling_s:
        d_s, users = ceiling_s, int(table.loc[fastest, "users"])
    lo_hi = None if est.interval_s is None else tuple(min(v, ceiling_s) for v in est.interval_s)
    x_ci = None if lo_hi is None else (cores / lo_hi[1], cores / lo_hi[0])
    where = (f"regression over {est.n_steps} clean step(s)" if users is None else
             f"lowered to keep the {users}-user step within {BOUND_TOLERANCE:g}×")
    ci = "" if x_ci is None else f" (95% interval {x_ci[0]:,.0f}-{x_ci[1]:,.0f})"
    return DemandBound(
        cores=cores, demand_s=d_s, max_requests_per_s=cores / d_s, users=users,
        note=f"{d_s * 1e6:.0f} µs of CPU per request ({where}) "
             f"→ at most {cores / d_s:,.0f} requests/s on {cores:g} core(s){ci}",
        n_steps=est.n_steps, demand_interval_s=None if lo_hi is None else (lo_hi[0], lo_hi[1]),
        max_requests_interval=x_ci, requests_per_user_s=per_user)


def pooled_requests_per_user_s(rows: pd.DataFrame) -> float | None:
    """Σ requests/s ÷ Σ users over ``rows`` (None without users or requests)."""
    users = pd.to_numeric(rows.get("users"), errors="coerce")
    rps = pd.to_numeric(rows.get("requests_per_s"), errors="coerce")
    if users is None or rps is None:
        return None
    ok = users.notna() & rps.notna() & (users > 0) & (rps > 0)
    if not ok.any():
        return None
    return float(rps[ok].sum() / users[ok].sum())


def users_at_bound(bound: DemandBound) -> tuple[float, tuple[float, float] | None] | None:
    """Users the CPU bound serves by Little's law, N = (cores / D) / (requests/s per user).

    Both factors are measured over the clean steps, so N repeats between runs where the
    USL's N = X / (λ − σX) does not: σ fitted from a nearly straight ramp swings by 20×
    (two default runs: 3.3e-6 and 7.6e-5, 12% apart in N). None without either factor."""
    x, rate = bound.max_requests_per_s, bound.requests_per_user_s
    if x is None or not rate:
        return None
    ci = bound.max_requests_interval
    return x / rate, None if ci is None else (ci[0] / rate, ci[1] / rate)


def capped_throughput(fit: UslFit, n: ArrayLike, *, bound: DemandBound) -> NDArray[np.float64]:
    """The USL curve cut at cores / D (the curve itself without a bound)."""
    curve = fit.predict(n)
    cap = bound.max_requests_per_s
    return curve if cap is None else np.minimum(curve, cap)


def bounded_peak(fit: UslFit, *, bound: DemandBound, max_measured_users: int) -> BoundedUsl:
    """N* and X(N*) of the fit, capped by the bound and labelled when extrapolated.

    Each figure carries the interval of the same capped figure over the fit's bootstrap
    samples (``UslFit.samples``): an unbounded peak (κ = 0) counts as infinite there."""
    point = _capped_peak(fit, bound=bound)
    draws = np.array([_capped_peak(UslFit(sigma=s, kappa=k, lambda_=lam, r_squared=math.nan,
                                          n_points=fit.n_points), bound=bound)[:2]
                      for s, k, lam in fit.samples]).reshape(-1, 2)
    n_ci, x_ci = (_interval(draws[:, i], confidence=fit.confidence) for i in (0, 1))
    little = users_at_bound(bound) if point[2] else None
    if little is not None:  # the bound cut the curve: N from measured rates, not the fit
        point, n_ci = (little[0], point[1], True), little[1]
    return _labelled(*point, bound=bound, max_measured_users=max_measured_users,
                     n_interval=n_ci, x_interval=x_ci, little=little is not None)


def _interval(values: NDArray[np.float64], *, confidence: float) -> tuple[float, float] | None:
    if values.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    # draws, not interpolations between them: an unbounded draw (inf) stays inf
    lo, hi = np.percentile(values, [tail, 100.0 - tail], method="inverted_cdf")
    return float(lo), float(hi)


def _capped_peak(fit: UslFit, *, bound: DemandBound) -> tuple[float, float, bool]:
    """(N, X, bounded): the fit's peak, or where it meets cores / D if that comes first."""
    peak_n, peak_x = fit.peak_n, fit.peak_x
    cap = bound.max_requests_per_s
    bounded = cap is not None and (not math.isfinite(peak_x) or peak_x > cap)
    if bounded:
        assert bound.max_requests_per_s is not None
        peak_x = bound.max_requests_per_s
        peak_n = users_at_throughput(fit, requests_per_s=bound.max_requests_per_s)
    return peak_n, peak_x, bounded


def _labelled(peak_n: float, peak_x: float, bounded: bool, *, bound: DemandBound,
              max_measured_users: int, n_interval: tuple[float, float] | None,
              x_interval: tuple[float, float] | None, little: bool = False) -> BoundedUsl:
    n_value = peak_n if math.isfinite(peak_n) else None
    x_value = peak_x if math.isfinite(peak_x) else None
    # Little's law on measured rates is a bounded figure; the fit's N past the steps is not
    n_extra = n_value is None or (n_value > max_measured_users and not little)
    # X at an extrapolated N is extrapolated, unless the bound (measured) set it.
    x_extra = n_extra and not bounded
    kind = "CPU bound" if bounded else "USL peak"
    n_label = (f"users at the {kind}" if not little else
               "users at the CPU bound (Little's law: bound ÷ measured requests/s per user)")
    return BoundedUsl(
        peak_users=BoundedFigure(value=n_value, extrapolated=n_extra, bounded=bounded,
                                 label=_label(n_label, extrapolated=n_extra),
                                 interval=n_interval),
        peak_requests_per_s=BoundedFigure(value=x_value, extrapolated=x_extra, bounded=bounded,
                               label=_label(f"requests/s at the {kind}", extrapolated=x_extra),
                               interval=x_interval),
        max_measured_users=max_measured_users, bound=bound)


def users_at_throughput(fit: UslFit, *, requests_per_s: float) -> float:
    """Smallest N where the USL first reaches ``requests_per_s`` (inf when it never does).

    The USL rises monotonically up to N*, so a bisection on [0, N*] finds it.
    """
    hi = fit.peak_n if math.isfinite(fit.peak_n) else 1.0
    if not math.isfinite(fit.peak_n):
        while float(fit.predict(hi)) < requests_per_s and hi < 1e12:
            hi *= 2.0
    if float(fit.predict(hi)) < requests_per_s:
        return math.inf
    lo = 0.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if float(fit.predict(mid)) < requests_per_s:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6 * max(hi, 1.0):
            break
    return hi


def steps_over_bound(table: pd.DataFrame, *, bound: DemandBound) -> list[int]:
    """User counts of steps whose throughput exceeds the bound beyond the tolerance."""
    if bound.max_requests_per_s is None:
        return []
    rps = pd.to_numeric(table["requests_per_s"], errors="coerce")
    over = rps > BOUND_TOLERANCE * bound.max_requests_per_s
    return [int(u) for u in table.loc[over, "users"]]


def _label(text: str, *, extrapolated: bool) -> str:
    return f"{text} (extrapolated)" if extrapolated else text
