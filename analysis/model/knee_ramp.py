"""The knee ramp on a clock: :func:`analysis.model.knee.next_step` played tick by tick.

Pure: the runner (:mod:`analysis.capacity.knee_loop`) supplies the clock, the live user
count, the step figures and the drain signal; this module does no I/O.

**Recovery before a refinement.** A refinement step that follows an overloaded step
(one that failed the SLO) would inherit its backlog: the requests queued in the
service, the messages not yet delivered, the users' late schedules. Their samples land
in the refinement's window and make the bisection land low. So before such a step the
ramp drops the users to the refinement's count (always below the failing one) and
starts its hold only once the service has drained (the ``drained`` signal: no new
failures and its CPU under a busy level), after at least ``Recovery.min_s`` and
``Recovery.max_s`` at most. The pause counts against the time budget.

Why not drop further (to half the passing count, say)? Users added back are new
Locust users: each signs up again, and a burst of sign-ups at the spawn rate is
itself an overload (measured: 409 sign-up timeouts in the refinement's window).
Stopping users costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from analysis.model.knee import Decision, KneeRules, Phase, StepFigures, next_step, passes

StepHook = Callable[[int, float], None]  # (users, now_s)
Drained = Callable[[float, float], bool]  # (since_s, now_s): has the service caught up?


@dataclass(frozen=True, slots=True)
class Recovery:
    """The pause before a refinement step that follows an overloaded step."""

    min_s: float = 2.0  # at least this long (one fresh CPU sample after the drop)
    max_s: float = 8.0  # at most this long, drained or not


NO_RECOVERY = Recovery(min_s=0.0, max_s=0.0)


def needs_recovery(done: Sequence[StepFigures], decision: Decision, *,
                   rules: KneeRules) -> bool:
    """A refinement comes next and the last step was overloaded (failed the SLO)."""
    return decision.phase == "refine" and bool(done) and not passes(done[-1], rules=rules)


def recovered(*, since_s: float, now_s: float, recovery: Recovery,
              drained: Drained | None) -> bool:
    """The pause is over: ``min_s`` passed and the service drained, or ``max_s`` passed."""
    waited_s = now_s - since_s
    if waited_s >= recovery.max_s:
        return True
    return waited_s >= recovery.min_s and (drained is None or drained(since_s, now_s))


@dataclass
class _Current:
    users: int
    phase: Phase
    asked_s: float  # when the count was asked for
    start_s: float | None = None  # when the live count reached it: the hold starts
    end_s: float | None = None  # when the hold ended: the figures are read after settle_s


@dataclass
class _Recovering:
    users: int  # held while the service drains: the refinement's own count
    since_s: float
    then: Decision  # the refinement to run after it


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
    after it); the swarm's own time cap allows for Locust's start-up on top. A
    refinement after an overloaded step waits for the recovery (module docstring).
    """

    planned: Sequence[int]
    rules: KneeRules
    hold_s: float
    measure: Callable[[int, float, float], StepFigures]
    budget_s: float = math.inf
    settle_s: float = 0.0
    spawn_timeout_s: float = 30.0
    recovery: Recovery = NO_RECOVERY
    drained: Drained | None = None
    on_step_start: StepHook | None = None
    on_step_end: StepHook | None = None
    done: list[StepFigures] = field(default_factory=list)
    recoveries: list[tuple[int, float, float]] = field(default_factory=list)  # users, from, to
    stop_reason: str | None = None
    _current: _Current | None = None
    _recovering: _Recovering | None = None
    _t0_s: float | None = None

    @property
    def target_users(self) -> int | None:
        """The count asked for now (None before the first tick and after the stop)."""
        if self.stop_reason:
            return None
        if self._recovering is not None:
            return self._recovering.users
        return None if self._current is None else self._current.users

    def tick(self, now_s: float, *, live_users: int | None = None) -> int | None:
        """Users to hold at ``now_s`` (None: stop the swarm)."""
        if self.stop_reason is not None:
            return None
        if self._recovering is not None:
            return self._recover(now_s)
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
        pause_s = self.recovery.min_s if needs_recovery(self.done, decision,
                                                        rules=self.rules) else 0.0
        if not self._fits(decision, now_s=now_s, extra_s=pause_s):
            return None
        if pause_s > 0:  # hold the refinement's count, not yet its window
            self._recovering = _Recovering(users=decision.users, since_s=now_s, then=decision)
            return decision.users
        return self._ask(decision, now_s=now_s)

    def _recover(self, now_s: float) -> int | None:
        rec = self._recovering
        assert rec is not None
        if not recovered(since_s=rec.since_s, now_s=now_s, recovery=self.recovery,
                         drained=self.drained):
            return rec.users
        self._recovering = None
        self.recoveries.append((rec.users, rec.since_s, now_s))
        if not self._fits(rec.then, now_s=now_s, extra_s=0.0):
            return None
        return self._ask(rec.then, now_s=now_s)

    def _fits(self, decision: Decision, *, now_s: float, extra_s: float) -> bool:
        """The step (after ``extra_s`` of recovery) ends within the budget; else stop."""
        spent_s = 0.0 if self._t0_s is None else now_s - self._t0_s
        if spent_s + extra_s + self.hold_s + self.settle_s > self.budget_s:
            self.stop_reason = f"time budget {self.budget_s:g} s spent ({decision.reason} next)"
            return False
        return True

    def _ask(self, decision: Decision, *, now_s: float) -> int:
        assert decision.users is not None and decision.phase is not None
        self._current = _Current(users=decision.users, phase=decision.phase, asked_s=now_s)
        return decision.users
