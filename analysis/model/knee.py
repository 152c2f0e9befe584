"""A ramp that finds the knee: extend past the plan, then bisect the SLO crossing.

A planned ramp that ends while the SLO still holds measures only "at least N
users". :func:`next_step` decides, from the figures of the steps done so far,
what to run next:

1. **planned**: the planned user counts in order, until one breaks a stop rule;
2. **extend**: when the last step still meets the SLO and nothing is saturated,
   geometric steps (× ``growth``) up to ``max_users``, until the SLO breaks,
   throughput bends, errors rise or the generator saturates;
3. **refine**: at most ``max_refinements`` steps bisecting between the largest
   passing and the smallest failing user count, so the SLO capacity is measured
   within ``(hi - lo) / 2**refinements`` rather than interpolated across a step.

:class:`analysis.model.knee_ramp.KneeRamp` plays those decisions on a clock (a
Locust-shape-like ``tick``), with the step's figures supplied by a callable: the same
:func:`figures_from_table` rows the report prints, so the stopping rule and the report
read one set of numbers. Throughput is requests/s, or for a push transport delivered
messages/s (:attr:`StepFigures.throughput_per_s`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from analysis.model.push import PUSH_TRANSPORTS
from analysis.model.slo import MAX_SHORTFALL
from analysis.model.stats import WARMUP_FRACTION

Phase = Literal["planned", "extend", "refine"]


@dataclass(frozen=True, slots=True)
class StepFigures:
    users: int
    requests_per_s: float
    error_rate: float
    delivery_p95_ms: float | None
    generator_saturated: bool = False
    phase: Phase = "planned"
    # a push transport's throughput (delivered messages/s); None: requests/s is it
    delivered_per_s: float | None = None
    # 1 − polls / (N / T) (generator.with_schedule_shortfall); None: not judged
    schedule_shortfall: float | None = None

    @property
    def throughput_per_s(self) -> float:
        """What the bend and fall rules read: delivered messages/s for push, else requests/s.

        A push step makes few requests (one subscribe, then frames), so requests/s
        stays flat as users grow and "bent" at once; its work is the deliveries."""
        return self.requests_per_s if self.delivered_per_s is None else self.delivered_per_s

    @property
    def throughput_unit(self) -> str:
        return "req/s" if self.delivered_per_s is None else "delivered msg/s"


@dataclass(frozen=True, slots=True)
class KneeRules:
    slo_p95_ms: float = 3000.0
    max_error_rate: float = 0.01
    max_users: int = 20_000
    growth: float = 1.5
    max_refinements: int = 2
    bend_fraction: float = 0.5  # marginal req/s per added user below half the average: bent
    min_gap_users: int = 20  # no bisection of a bracket narrower than this
    error_stop_rate: float = 0.05
    p95_stop_factor: float = 3.0


@dataclass(frozen=True, slots=True)
class Decision:
    users: int | None  # None: stop
    phase: Phase | None
    reason: str


def passes(step: StepFigures, *, rules: KneeRules) -> bool:
    """Meets the SLO: p95 delivery within it (or no delivery sample), few errors, and the
    users kept their poll schedule (``slo.MAX_SHORTFALL``), as the report judges it."""
    p95_ok = step.delivery_p95_ms is None or step.delivery_p95_ms <= rules.slo_p95_ms
    schedule_ok = step.schedule_shortfall is None or step.schedule_shortfall <= MAX_SHORTFALL
    return p95_ok and step.error_rate <= rules.max_error_rate and schedule_ok


def bent(done: Sequence[StepFigures], *, rules: KneeRules) -> bool:
    """Throughput bends: the last step's marginal throughput per user under ``bend_fraction``.

    Throughput is :attr:`StepFigures.throughput_per_s` (delivered messages/s for push)."""
    ordered = sorted(done, key=lambda s: s.users)
    if len(ordered) < 2:
        return False
    prev, last = ordered[-2], ordered[-1]
    x_prev, x_last = prev.throughput_per_s, last.throughput_per_s
    if last.users <= prev.users or prev.users <= 0 or not math.isfinite(x_prev):
        return False
    marginal = (x_last - x_prev) / (last.users - prev.users)
    return marginal < rules.bend_fraction * x_prev / prev.users


def planned_stop(done: Sequence[StepFigures], *, rules: KneeRules) -> str | None:
    """The planned ramp's saturation rule on the last step (errors, 3x SLO, falling X)."""
    last = done[-1]
    if last.error_rate > rules.error_stop_rate:
        return f"errors {last.error_rate:.1%} > {rules.error_stop_rate:.0%}"
    p95 = last.delivery_p95_ms
    if p95 is not None and p95 > rules.p95_stop_factor * rules.slo_p95_ms:
        return f"p95 delivery {p95:.0f} ms > {rules.p95_stop_factor:g}x SLO"
    best = max((s.throughput_per_s for s in done[:-1] if s.users < last.users),
               default=-math.inf)
    if last.throughput_per_s < 0.9 * best:
        unit = last.throughput_unit
        return f"throughput fell to {last.throughput_per_s:.0f} {unit} from {best:.0f} {unit}"
    if last.generator_saturated and len(done) >= 2 and done[-2].generator_saturated:
        # two steps in a row: one busy moment on a shared machine does not end the ramp
        return f"load generator saturated at {done[-2].users} and {last.users} users"
    return None


def next_step(*, planned: Sequence[int], done: Sequence[StepFigures],
              rules: KneeRules) -> Decision:
    """What to run after ``done`` (in run order); pure."""
    if not done:
        return Decision(users=planned[0], phase="planned", reason="first planned step")
    stop = planned_stop(done, rules=rules)
    last = done[-1]
    if stop is None and last.phase == "planned" and len(done) < len(planned):
        return Decision(users=planned[len(done)], phase="planned", reason="next planned step")
    if stop is None and last.phase != "refine" and passes(last, rules=rules):
        stop = _extension_stop(done, rules=rules)
        if stop is None:
            users = min(rules.max_users, max(last.users + 1, math.ceil(last.users * rules.growth)))
            return Decision(users=users, phase="extend",
                            reason=f"SLO still met at {last.users} users: extending")
    return _refine(done, rules=rules, stop=stop or _failure(last, rules=rules))


def _extension_stop(done: Sequence[StepFigures], *, rules: KneeRules) -> str | None:
    last = done[-1]
    if last.users >= rules.max_users:
        return f"reached --max-users ({rules.max_users})"
    if bent(done, rules=rules):
        return (f"throughput bends at {last.users} users "
                f"({last.throughput_per_s:.0f} {last.throughput_unit})")
    return None


def _failure(last: StepFigures, *, rules: KneeRules) -> str:
    if last.error_rate > rules.max_error_rate:
        return f"error rate {last.error_rate:.1%} over {rules.max_error_rate:.0%} at {last.users}"
    if last.delivery_p95_ms is not None and last.delivery_p95_ms > rules.slo_p95_ms:
        return f"SLO broke at {last.users} users (p95 {last.delivery_p95_ms:.0f} ms)"
    return f"stopped at {last.users} users"


def crossing(done: Sequence[StepFigures], *, rules: KneeRules) -> tuple[int, int] | None:
    """(largest passing users below the first failing one, smallest failing users)."""
    failing = [s.users for s in done if not passes(s, rules=rules)]
    if not failing:
        return None
    hi = min(failing)
    below = [s.users for s in done if s.users < hi and passes(s, rules=rules)]
    return (max(below), hi) if below else None


def _refine(done: Sequence[StepFigures], *, rules: KneeRules, stop: str) -> Decision:
    refined = sum(1 for s in done if s.phase == "refine")
    bracket = crossing(done, rules=rules)
    if refined >= rules.max_refinements or bracket is None:
        why = "refined the SLO crossing" if refined else stop
        return Decision(users=None, phase=None, reason=why)
    lo, hi = bracket
    if hi - lo < max(2 * rules.min_gap_users, 2):
        return Decision(users=None, phase=None, reason=f"{stop}; crossing within {hi - lo} users")
    return Decision(users=(lo + hi) // 2, phase="refine",
                    reason=f"{stop}; bisecting {lo}-{hi} users")


def delivered_per_s(row: dict[str, Any], *, warmup_fraction: float) -> float:
    """A step-table row's delivered messages/s over its steady part.

    The push table's ``delivered_per_s`` (``analysis.model.push.push_table``): the
    message samples of ``[start + warm-up, end)`` over that span."""
    span_s = (float(row["end_ms"]) - float(row["start_ms"])) * (1.0 - warmup_fraction) / 1000.0
    return float(row.get("delivery_samples") or 0.0) / max(span_s, 1e-3)


def push_warmup_fraction(inputs: dict[str, Any]) -> float | None:
    """The run's warm-up share when its users are on a push transport (the meta keys
    ``realtime`` and ``warmup_fraction``), else None: the throughput is requests/s."""
    if inputs.get("realtime") not in PUSH_TRANSPORTS:
        return None
    return float(inputs.get("warmup_fraction", WARMUP_FRACTION))


def schedule_interval_ms(inputs: dict[str, Any]) -> float | None:
    """The poll interval a polling run's users keep (``nominal_interval_ms``); None for a
    push transport or an adaptive policy (no schedule to judge)."""
    if push_warmup_fraction(inputs) is not None:
        return None
    value = inputs.get("nominal_interval_ms")
    return None if value is None else float(value)


def figures_from_table(table: pd.DataFrame, *, saturated_users: Sequence[int] = (),
                       phases: dict[int, Phase] | None = None,
                       push_warmup_fraction: float | None = None) -> list[StepFigures]:
    """StepFigures from the report's step table (``stats.step_table``), in run order.

    ``push_warmup_fraction`` (a push transport's run): throughput is read as delivered
    messages/s over each step's steady part, the push table's own figure."""
    rows = table.sort_values("start_ms", kind="stable").to_dict("records")
    sat, phases = set(saturated_users), phases or {}
    push = push_warmup_fraction
    return [StepFigures(
        users=int(r["users"]), requests_per_s=float(r["requests_per_s"]),
        error_rate=0.0 if pd.isna(r.get("error_rate")) else float(r["error_rate"]),
        delivery_p95_ms=None if pd.isna(r.get("delivery_p95_ms")) else float(r["delivery_p95_ms"]),
        generator_saturated=int(r["users"]) in sat,
        phase=phases.get(int(r["users"]), "planned"),
        delivered_per_s=None if push is None else delivered_per_s(r, warmup_fraction=push),
        schedule_shortfall=_finite(r.get("schedule_shortfall")))
        for r in rows]


def _finite(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
