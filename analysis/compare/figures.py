"""The figures ``pollcap compare`` weighs, per run, each with bootstrap draws.

Every figure is computed from a run folder's raw parts (``analysis.runs.RunData``)
over each step's steady window (the report's warm-up rule), and resampled with a
seeded bootstrap so two runs' draws give an interval of their difference:

* **SLO capacity** (users): the delivery samples of every step are resampled, each
  step's p95 recomputed, each step's error rate drawn from its counts (``_error_draws``),
  and the report's own rule (``plan.slo_capacity``) applied to each draw: a capacity the
  error rate limits gets an interval too (with the p95s alone it collapsed to one value);
* **requests per user** (per s): per-second bins of poll samples ÷ users, bins resampled;
* **CPU per request** (ms): per-second service CPU samples ÷ the step's poll rate;
* **p95 delivery** (ms) at the user counts both runs measured: delivery samples resampled.

The last three are means over the matched steps, so both runs weigh the same loads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.defaults import PLAN_DEFAULTS
from analysis.model.findings import generator_verdicts, judge_schedule
from analysis.model.slo import meets_slo, slo_capacity
from analysis.model.stats import WARMUP_FRACTION, step_table
from analysis.runs import RunData

FloatArray = NDArray[np.float64]
BOOTSTRAP_DRAWS = 200
MAX_BOOT_SAMPLES = 10_000  # per step and draw: at most this many resampled values


@dataclass(frozen=True, slots=True)
class Figure:
    value: float | None
    draws: FloatArray  # empty when the figure is unavailable
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunFigures:
    run_id: str
    table: pd.DataFrame
    capacity: Figure
    capacity_status: str
    requests_per_user: Figure
    cpu_ms_per_request: Figure
    p95_delivery_ms: Figure
    step_p95_ms: dict[int, float]
    delivery: dict[int, FloatArray]  # raw steady-window delivery latencies by users


def step_windows(steps: pd.DataFrame, *, warmup_fraction: float) -> list[tuple[int, int, int]]:
    """(users, lo_ms, end_ms) of each step's steady window, in start order."""
    ordered = steps.sort_values("start_ms", kind="stable")
    return [(int(r.users), int(r.start_ms + (r.end_ms - r.start_ms) * warmup_fraction),
             int(r.end_ms)) for r in ordered.itertuples(index=False)]


def _slice(frame: pd.DataFrame | None, column: str, lo_ms: int, end_ms: int) -> FloatArray:
    if frame is None or frame.empty or column not in frame:
        return np.empty(0)
    t = frame["t_ms"].to_numpy(dtype=np.float64)
    keep = (t >= lo_ms) & (t < end_ms)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)[keep]
    return values[np.isfinite(values)]


def _bins_per_s(frame: pd.DataFrame | None, lo_ms: int, end_ms: int) -> FloatArray:
    """Poll samples per whole second of the window."""
    n_bins = max(1, (end_ms - lo_ms) // 1000)
    t = _slice(frame, "t_ms", lo_ms, lo_ms + n_bins * 1000)
    return np.bincount(((t - lo_ms) // 1000).astype(np.int64), minlength=n_bins).astype(
        np.float64)[:n_bins]


def users_within_slo(data: RunData, *, slo_p95_ms: float | None = None) -> set[int]:
    """User counts of the run's steps that met the SLO (p95 delivery and errors)."""
    warmup = float(data.meta.get("warmup_fraction", WARMUP_FRACTION))
    slo = float(slo_p95_ms if slo_p95_ms is not None
                else data.meta.get("slo_p95_ms", PLAN_DEFAULTS.slo_p95_ms))
    table = _judged(data, warmup=warmup)
    ok = meets_slo(table, slo_p95_ms=slo, max_error_rate=PLAN_DEFAULTS.max_error_rate)
    return {int(u) for u in table.loc[ok, "users"]}


def _judged(data: RunData, *, warmup: float) -> pd.DataFrame:
    """The step table with the poll-schedule judgement the report's SLO reads."""
    table = step_table(steps=data.steps, samples=data.samples, resources=data.resources,
                       warmup_fraction=warmup)
    inputs = {**data.meta, "warmup_fraction": warmup}
    bound = [g.users for g in generator_verdicts(table=table, steps=data.steps,
                                                 resources=data.resources, inputs=inputs)
             if g.saturated]
    return judge_schedule(table, generator_bound=bound, inputs=inputs)


def run_figures(data: RunData, *, matched_users: Sequence[int], draws: int = BOOTSTRAP_DRAWS,
                seed: int = 0, slo_p95_ms: float | None = None) -> RunFigures:
    """All compared figures of one run (``matched_users``: the steps both runs have)."""
    warmup = float(data.meta.get("warmup_fraction", WARMUP_FRACTION))
    slo = float(slo_p95_ms if slo_p95_ms is not None
                else data.meta.get("slo_p95_ms", PLAN_DEFAULTS.slo_p95_ms))
    rng = np.random.default_rng(seed)
    table = _judged(data, warmup=warmup)
    windows = step_windows(data.steps, warmup_fraction=warmup)
    messages = data.samples.get("message")
    delivery = {u: _slice(messages, "latency_ms", lo, hi) for u, lo, hi in windows}
    p95_draws = {u: _p95_draws(v, rng=rng, draws=draws) for u, v in delivery.items()}
    capacity, status = _capacity(table, p95_draws, _error_draws(table, rng=rng, draws=draws),
                                 slo=slo, draws=draws)
    matched = [w for w in windows if w[0] in set(matched_users)]
    polls = data.samples.get("poll")
    per_user = [_bins_per_s(polls, lo, hi) / max(u, 1) for u, lo, hi in matched]
    cpu = [_slice(data.resources, "cpu_percent", lo, hi) for _, lo, hi in matched]
    rates = [_bins_per_s(polls, lo, hi) for _, lo, hi in matched]
    return RunFigures(
        run_id=data.run_id, table=table, capacity=capacity, capacity_status=status,
        requests_per_user=_mean_of(per_user, rng=rng, draws=draws,
                                   stat=lambda a: float(np.mean(a))),
        cpu_ms_per_request=_cpu_per_request(cpu, rates, rng=rng, draws=draws),
        p95_delivery_ms=_mean_p95([(delivery[u], p95_draws[u]) for u, _, _ in matched]),
        step_p95_ms={u: float(np.percentile(v, 95)) if v.size else math.nan
                     for u, v in delivery.items()},
        delivery=delivery)


def _error_draws(table: pd.DataFrame, *, rng: np.random.Generator,
                 draws: int) -> dict[int, FloatArray]:
    """Per step, ``draws`` error rates given its k failures out of n requests.

    Drawn from the Jeffreys posterior Beta(k + 1/2, n - k + 1/2): a step without a
    failure still gets a small spread (0 of n is not "exactly 0"), and a failing step the
    binomial spread of its count. Only whole-step counts are recorded, so bursts of
    errors (run-to-run noise) are not seen: ``verdict.MIN_EFFECT_PCT`` covers those.
    A step without counts keeps its table value in every draw.
    """
    out: dict[int, FloatArray] = {}
    for row in table.itertuples(index=False):
        n = float(getattr(row, "requests", math.nan))
        k = float(getattr(row, "errors", math.nan))
        rate = float(getattr(row, "error_rate", math.nan))
        if math.isfinite(n) and math.isfinite(k) and n >= 1 and 0 <= k <= n:
            out[int(row.users)] = rng.beta(k + 0.5, n - k + 0.5, size=draws)
        else:
            out[int(row.users)] = np.full(draws, rate)
    return out


def _capacity(table: pd.DataFrame, p95_draws: dict[int, FloatArray],
              error_draws: dict[int, FloatArray], *, slo: float,
              draws: int) -> tuple[Figure, str]:
    point = slo_capacity(table, slo_p95_ms=slo, max_error_rate=PLAN_DEFAULTS.max_error_rate)
    if point.users is None:
        return Figure(value=None, draws=np.empty(0), note=point.message), point.status
    out = np.empty(draws)
    boot = table[["users", "delivery_p95_ms", "error_rate", "schedule_shortfall"]].copy()
    nan = np.full(draws, math.nan)
    columns = [p95_draws.get(int(u), nan) for u in table["users"]]
    rates = [error_draws.get(int(u), np.full(draws, e))
             for u, e in zip(table["users"], table["error_rate"], strict=True)]
    for i in range(draws):
        boot["delivery_p95_ms"] = [c[i] for c in columns]
        boot["error_rate"] = [r[i] for r in rates]
        cap = slo_capacity(boot, slo_p95_ms=slo, max_error_rate=PLAN_DEFAULTS.max_error_rate)
        out[i] = cap.users if cap.users is not None else 0.0
    note = point.message if point.status != "interpolated" else ""
    return Figure(value=point.users, draws=out, note=note), point.status


def _p95_draws(values: FloatArray, *, rng: np.random.Generator, draws: int) -> FloatArray:
    """Bootstrap p95s of one step's samples (NaN without samples).

    At most MAX_BOOT_SAMPLES per draw: for larger steps the interval comes out somewhat
    wider than a full-size bootstrap's (conservative, never overconfident) and fast.
    """
    if values.size == 0:
        return np.full(draws, math.nan)
    size = min(values.size, MAX_BOOT_SAMPLES)
    out = np.empty(draws)
    chunk = max(1, 2_000_000 // size)
    for lo in range(0, draws, chunk):
        hi = min(draws, lo + chunk)
        idx = rng.integers(0, values.size, (hi - lo, size))
        out[lo:hi] = np.percentile(values[idx], 95, axis=1)
    return out


def _mean_p95(groups: list[tuple[FloatArray, FloatArray]]) -> Figure:
    groups = [(v, d) for v, d in groups if v.size]
    if not groups:
        return Figure(value=None, draws=np.empty(0), note="no matched step with samples")
    value = float(np.mean([np.percentile(v, 95) for v, _ in groups]))
    return Figure(value=value, draws=np.mean([d for _, d in groups], axis=0))


def _mean_of(groups: list[FloatArray], *, rng: np.random.Generator, draws: int,
             stat: Callable[[FloatArray], float]) -> Figure:
    groups = [g for g in groups if g.size]
    if not groups:
        return Figure(value=None, draws=np.empty(0), note="no matched step with samples")
    value = float(np.mean([stat(g) for g in groups]))
    out = np.empty(draws)
    for i in range(draws):
        out[i] = np.mean([stat(rng.choice(g, size=min(g.size, MAX_BOOT_SAMPLES)))
                          for g in groups])
    return Figure(value=value, draws=out)


def _cpu_per_request(cpu: list[FloatArray], rates: list[FloatArray], *,
                     rng: np.random.Generator, draws: int) -> Figure:
    pairs = [(c, r) for c, r in zip(cpu, rates, strict=True) if c.size and r.sum() > 0]
    if not pairs:
        return Figure(value=None, draws=np.empty(0), note="no service CPU samples")

    def ms(c: FloatArray, r: FloatArray) -> float:
        return float(c.mean() / 100.0 / r.mean() * 1000.0)

    value = float(np.mean([ms(c, r) for c, r in pairs]))
    out = np.empty(draws)
    for i in range(draws):
        out[i] = np.mean([ms(rng.choice(c, size=c.size), rng.choice(r, size=r.size))
                          for c, r in pairs])
    return Figure(value=value, draws=out)
