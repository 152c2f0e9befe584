"""Run A against run B: differences with bootstrap 95% intervals, and a verdict each.

A difference is *significant* when its bootstrap interval excludes zero (for p95
delivery, also when a Mann-Whitney test on the raw delivery samples of the matched
steps rejects "same distribution" at ``ALPHA``) **and** it exceeds ``min_effect_pct``.
The second rule is there because a bootstrap inside one run sees sampling noise
only, not run-to-run noise: two runs of the same code on this machine differ by a
few percent (issue 12: 3.4% on SLO capacity), and that is no change.

Requests per user, CPU per request and p95 delivery are weighed at the user counts
both runs measured, less those *past the SLO in both* (``compared_users``): there both
steps measure how an overloaded service breaks down (deadline 503s, a generator falling
behind), which changes from run to run by far more than any change of the code
(measured: two ``--quick`` runs of the same code, p95 delivery +17% and requests per
user +5%, both "worse", all of it from their one step past the SLO). A count that one
run holds and the other does not stays in: that is the regression to see. Without any
such count they fall back to every shared count, with a note.

Verdicts: ``better``, ``worse``, ``no significant change``, ``not comparable``.
``regressions`` is the CI gate: significant changes for the worse beyond a percentage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import mannwhitneyu

from analysis.compare.figures import (
    BOOTSTRAP_DRAWS,
    Figure,
    RunFigures,
    run_figures,
    users_within_slo,
)
from analysis.runs import RunData

CONFIDENCE = 0.95
ALPHA = 0.05
MIN_EFFECT_PCT = 5.0

# name -> (attribute of RunFigures, unit, which direction is better)
METRICS: dict[str, tuple[str, str, str]] = {
    "SLO capacity": ("capacity", "users", "higher"),
    "requests per user": ("requests_per_user", "req/s", "lower"),
    "CPU per request": ("cpu_ms_per_request", "ms", "lower"),
    "p95 delivery": ("p95_delivery_ms", "ms", "lower"),
}


@dataclass(frozen=True, slots=True)
class MetricComparison:
    name: str
    unit: str
    better: str
    a: float | None
    b: float | None
    diff: float | None
    diff_pct: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class StepComparison:
    users: int
    p95_a_ms: float
    p95_b_ms: float
    p_value: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    a: RunFigures
    b: RunFigures
    matched_users: list[int]
    metrics: list[MetricComparison]
    steps: list[StepComparison]
    min_effect_pct: float
    notes: list[str] = field(default_factory=list)
    compared_users: list[int] = field(default_factory=list)  # shared, not past the SLO in both


def compare_runs(a: RunData, b: RunData, *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
                 min_effect_pct: float = MIN_EFFECT_PCT,
                 slo_p95_ms: float | None = None) -> Comparison:
    """Compare run ``b`` (after) with run ``a`` (before)."""
    matched = sorted(set(a.steps["users"].astype(int)) & set(b.steps["users"].astype(int)))
    within = sorted(set(matched) & (users_within_slo(a, slo_p95_ms=slo_p95_ms)
                                    | users_within_slo(b, slo_p95_ms=slo_p95_ms)))
    compared = within or matched
    fa = run_figures(a, matched_users=compared, draws=draws, seed=seed, slo_p95_ms=slo_p95_ms)
    fb = run_figures(b, matched_users=compared, draws=draws, seed=seed + 1,
                     slo_p95_ms=slo_p95_ms)
    steps = [_step(u, fa, fb) for u in matched]
    pooled = _mann_whitney(np.concatenate([fa.delivery[u] for u in compared] or [np.empty(0)]),
                           np.concatenate([fb.delivery[u] for u in compared] or [np.empty(0)]))
    metrics = [_metric(name, getattr(fa, attr), getattr(fb, attr), unit=unit, better=better,
                       min_effect_pct=min_effect_pct,
                       p_value=pooled if name == "p95 delivery" else None)
               for name, (attr, unit, better) in METRICS.items()]
    notes = []
    if not matched:
        notes.append("the runs share no user count: only SLO capacity is compared")
    elif not within:
        notes.append("every shared user count is past the SLO in both runs: the per-user "
                     "figures are compared at all of them, overloaded as they are")
    elif len(within) < len(matched):
        past = ", ".join(str(u) for u in matched if u not in within)
        notes.append(f"per-user figures at the {len(within)} shared counts within the SLO in "
                     f"at least one run; not at {past} users (past it in both: overload "
                     "noise)")
    for fig, label in ((fa, "A"), (fb, "B")):
        if fig.capacity_status == "never_exceeded":
            notes.append(f"run {label}'s SLO capacity is a lower bound (the SLO never broke)")
    return Comparison(a=fa, b=fb, matched_users=matched, metrics=metrics, steps=steps,
                      min_effect_pct=min_effect_pct, notes=notes, compared_users=compared)


def regressions(result: Comparison, *, threshold_pct: float) -> list[MetricComparison]:
    """Metrics significantly worse by more than ``threshold_pct`` percent."""
    return [m for m in result.metrics if m.verdict == "worse" and m.diff_pct is not None
            and abs(m.diff_pct) > threshold_pct]


def _metric(name: str, a: Figure, b: Figure, *, unit: str, better: str, min_effect_pct: float,
            p_value: float | None) -> MetricComparison:
    if a.value is None or b.value is None or not a.draws.size or not b.draws.size:
        why = "; ".join(n for n in (a.note, b.note) if n) or "missing in one run"
        return MetricComparison(name=name, unit=unit, better=better, a=a.value, b=b.value,
                                diff=None, diff_pct=None, ci_low=None, ci_high=None,
                                p_value=p_value, verdict="not comparable", note=why)
    diff = b.value - a.value
    pct = diff / a.value * 100.0 if a.value else math.nan
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0
    lo, hi = (float(v) for v in np.percentile(b.draws - a.draws, [tail, 100.0 - tail]))
    significant = (lo > 0 or hi < 0) and math.isfinite(pct) and abs(pct) > min_effect_pct
    if p_value is not None:
        significant = significant and p_value < ALPHA
    verdict = "no significant change"
    if significant:
        verdict = "better" if (diff > 0) == (better == "higher") else "worse"
    return MetricComparison(name=name, unit=unit, better=better, a=a.value, b=b.value,
                            diff=diff, diff_pct=pct, ci_low=lo, ci_high=hi, p_value=p_value,
                            verdict=verdict, note="; ".join(n for n in (a.note, b.note) if n))


def _step(users: int, fa: RunFigures, fb: RunFigures) -> StepComparison:
    return StepComparison(users=users, p95_a_ms=fa.step_p95_ms.get(users, math.nan),
                          p95_b_ms=fb.step_p95_ms.get(users, math.nan),
                          p_value=_mann_whitney(fa.delivery[users], fb.delivery[users]))


def _mann_whitney(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or b.size < 2:
        return None
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
