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

:class:`KneeRamp` plays those decisions on a clock (a Locust-shape-like ``tick``),
with the step's figures supplied by a callable: the same :func:`figures_from_table`
rows the report prints, so the stopping rule and the report read one set of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd

Phase = Literal["planned", "extend", "refine"]


@dataclass(frozen=True, slots=True)
class StepFigures:
    users: int
    requests_per_s: float
    error_rate: float
    delivery_p95_ms: float | None
    generator_saturated: bool = False
    phase: Phase = "planned"


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
    """Meets the SLO: p95 delivery within it (or no delivery sample) and few errors."""
    p95_ok = step.delivery_p95_ms is None or step.delivery_p95_ms <= rules.slo_p95_ms
    return p95_ok and step.error_rate <= rules.max_error_rate


def bent(done: Sequence[StepFigures], *, rules: KneeRules) -> bool:
    """Throughput bends: the last step's marginal req/s per user under ``bend_fraction``."""
    ordered = sorted(done, key=lambda s: s.users)
    if len(ordered) < 2:
        return False
    prev, last = ordered[-2], ordered[-1]
    if last.users <= prev.users or prev.users <= 0 or not math.isfinite(prev.requests_per_s):
        return False
    marginal = (last.requests_per_s - prev.requests_per_s) / (last.users - prev.users)
    return marginal < rules.bend_fraction * prev.requests_per_s / prev.users


def planned_stop(done: Sequence[StepFigures], *, rules: KneeRules) -> str | None:
    """The planned ramp's saturation rule on the last step (errors, 3x SLO, falling X)."""
    last = done[-1]
    if last.error_rate > rules.error_stop_rate:
        return f"errors {last.error_rate:.1%} > {rules.error_stop_rate:.0%}"
    p95 = last.delivery_p95_ms
    if p95 is not None and p95 > rules.p95_stop_factor * rules.slo_p95_ms:
        return f"p95 delivery {p95:.0f} ms > {rules.p95_stop_factor:g}x SLO"
    best = max((s.requests_per_s for s in done[:-1] if s.users < last.users), default=-math.inf)
    if last.requests_per_s < 0.9 * best:
        return f"throughput fell to {last.requests_per_s:.0f} req/s from {best:.0f} req/s"
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
        return f"throughput bends at {last.users} users ({last.requests_per_s:.0f} req/s)"
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


def figures_from_table(table: pd.DataFrame, *, saturated_users: Sequence[int] = (),
                       phases: dict[int, Phase] | None = None) -> list[StepFigures]:
    """StepFigures from the report's step table (``stats.step_table``), in run order."""
    rows = table.sort_values("start_ms", kind="stable").to_dict("records")
    sat, phases = set(saturated_users), phases or {}
    return [StepFigures(
        users=int(r["users"]), requests_per_s=float(r["requests_per_s"]),
        error_rate=0.0 if pd.isna(r.get("error_rate")) else float(r["error_rate"]),
        delivery_p95_ms=None if pd.isna(r.get("delivery_p95_ms")) else float(r["delivery_p95_ms"]),
        generator_saturated=int(r["users"]) in sat,
        phase=phases.get(int(r["users"]), "planned")) for r in rows]


StepHook = Callable[[int, float], None]  # (users, now_s)


@dataclass
class _Current:
    users: int
    phase: Phase
    asked_s: float  # when the count was asked for
    start_s: float | None = None  # when the live count reached it: the hold starts
    end_s: float | None = None  # when the hold ended: the figures are read after settle_s


@dataclass
class KneeRamp:
    """Plays :func:`next_step` on a clock: ``tick(now_s)`` gives the users to hold now.

    A step's hold starts when ``live_users`` (the count the swarm reports) reaches the
    asked count, or ``spawn_timeout_s`` after it was asked (without ``live_users``: at
    once), so spawning never leaks into a step. ``on_step_start`` and ``on_step_end``
    are called at the hold's ends (the runner snapshots its counters there);
    ``measure(users, start_s, end_s)`` is called ``settle_s`` after the end, once the
    samples of the window have been flushed, and returns the step's figures.
    ``budget_s`` bounds the ramp from its first hold (no step starts that would end
    after it); the swarm's own time cap allows for Locust's start-up on top.
    """

    planned: Sequence[int]
    rules: KneeRules
    hold_s: float
    measure: Callable[[int, float, float], StepFigures]
    budget_s: float = math.inf
    settle_s: float = 0.0
    spawn_timeout_s: float = 30.0
    on_step_start: StepHook | None = None
    on_step_end: StepHook | None = None
    done: list[StepFigures] = field(default_factory=list)
    stop_reason: str | None = None
    _current: _Current | None = None
    _t0_s: float | None = None

    @property
    def target_users(self) -> int | None:
        """The count asked for now (None before the first tick and after the stop)."""
        return None if self._current is None or self.stop_reason else self._current.users

    def tick(self, now_s: float, *, live_users: int | None = None) -> int | None:
        """Users to hold at ``now_s`` (None: stop the swarm)."""
        if self.stop_reason is not None:
            return None
        cur = self._current
        if cur is not None and not self._advance(cur, now_s=now_s, live_users=live_users):
            return cur.users
        return self._decide(now_s)

    def _advance(self, cur: _Current, *, now_s: float, live_users: int | None) -> bool:
        """Move the current step on; True once its figures are in ``done``."""
        if cur.start_s is None:
            reached = live_users is None or abs(live_users - cur.users) <= cur.users // 100
            if not reached and now_s - cur.asked_s < self.spawn_timeout_s:
                return False
            cur.start_s = now_s
            if self._t0_s is None:  # the budget runs from the first hold, not the start-up
                self._t0_s = now_s
            if self.on_step_start:
                self.on_step_start(cur.users, now_s)
        if cur.end_s is None:
            if now_s - cur.start_s < self.hold_s:
                return False
            cur.end_s = now_s
            if self.on_step_end:
                self.on_step_end(cur.users, now_s)
        if now_s - cur.end_s < self.settle_s:
            return False
        fig = self.measure(cur.users, cur.start_s, cur.end_s)
        self.done.append(replace(fig, users=cur.users, phase=cur.phase))
        self._current = None
        return True

    def _decide(self, now_s: float) -> int | None:
        decision = next_step(planned=self.planned, done=self.done, rules=self.rules)
        if decision.users is None or decision.phase is None:
            self.stop_reason = decision.reason
            return None
        spent_s = 0.0 if self._t0_s is None else now_s - self._t0_s
        if spent_s + self.hold_s + self.settle_s > self.budget_s:
            self.stop_reason = f"time budget {self.budget_s:g} s spent ({decision.reason} next)"
            return None
        self._current = _Current(users=decision.users, phase=decision.phase, asked_s=now_s)
        return decision.users
