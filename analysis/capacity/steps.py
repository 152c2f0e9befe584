"""Step cutting and the stopping rule of a capacity run: pure, given a clock.

The steps are cut from what the swarm actually ran (the live user count the Locust
users publish), not from the planned table, so a slow ramp-up never leaks into a
step's window: a step opens when the live count reaches one of the plan's counts
and closes when the count changes again. A count held less than ``min_step_ms`` is
a transient while spawning, not a step.

The tracker does no I/O. The runner feeds it the live count; when
:meth:`StepTracker.needs_counters` says a boundary is crossed it passes a counter
snapshot, gets back the closed :class:`StepWindow` (with the counts over it), reads
that window's figures and asks :meth:`StepTracker.judge` whether to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.capacity.ramp import RampPlan, saturation_reason
from analysis.defaults import PLAN_DEFAULTS

MIN_STEP_MS = 2000.0
PROCESS_POLLS_PREFIX = "process_polls:"  # counts key of one Locust process's polls


@dataclass(frozen=True, slots=True)
class StepWindow:
    """One completed step: ``[start_ms, end_ms)`` epoch ms, its steady part, its counts."""

    users: int
    start_ms: float
    end_ms: float
    steady_start_ms: float  # start_ms + warm-up share of the step
    counts: dict[str, float]  # counter deltas over the whole step

    def row(self) -> dict[str, Any]:
        """The step's row of ``steps.csv`` (the per-process polls go to :meth:`process_rows`)."""
        counts = {k: v for k, v in self.counts.items() if not k.startswith(PROCESS_POLLS_PREFIX)}
        return {"users": self.users, "start_ms": int(self.start_ms), "end_ms": int(self.end_ms),
                **counts}

    def process_rows(self) -> list[dict[str, Any]]:
        """Each Locust process's polls over the whole step (a distributed run's workers)."""
        span_s = max((self.end_ms - self.start_ms) / 1000.0, 1e-3)
        return [{"users": self.users, "process": k.removeprefix(PROCESS_POLLS_PREFIX),
                 "polls": int(v), "polls_per_s": v / span_s}
                for k, v in sorted(self.counts.items()) if k.startswith(PROCESS_POLLS_PREFIX)]


@dataclass(frozen=True, slots=True)
class StepFigures:
    """What the stopping rule looks at, over a step's steady part."""

    requests_per_s: float
    error_rate: float
    delivery_p95_ms: float | None


def step_figures(
    window: StepWindow, *, polls: int, delivery_p95_ms: float | None
) -> StepFigures:
    """Figures of a closed step from its poll count and delivery p95 (steady part).

    The error rate is over the whole step's requests (the users' own counters).
    """
    span_s = max((window.end_ms - window.steady_start_ms) / 1000.0, 1e-3)
    requests = max(window.counts.get("requests", 0.0), 1.0)
    return StepFigures(requests_per_s=polls / span_s,
                       error_rate=window.counts.get("failures", 0.0) / requests,
                       delivery_p95_ms=delivery_p95_ms)


@dataclass
class _OpenStep:
    users: int
    start_ms: float
    counters: Mapping[str, float]


@dataclass
class StepTracker:
    """Cuts a run into steps by the live user count and applies the stopping rule."""

    plan: RampPlan
    clock_ms: Callable[[], float]
    slo_p95_ms: float = PLAN_DEFAULTS.slo_p95_ms
    warmup_fraction: float = PLAN_DEFAULTS.warmup_fraction
    min_step_ms: float = MIN_STEP_MS
    windows: list[StepWindow] = field(default_factory=list)
    figures: list[StepFigures] = field(default_factory=list)
    stop_reason: str | None = None
    _open: _OpenStep | None = None

    def needs_counters(self, *, users: int) -> bool:
        """True when ``users`` closes the open step or opens a new one."""
        if self._open is not None:
            return users != self._open.users
        return users in self.plan.users

    def observe(self, *, users: int, counters: Mapping[str, float]) -> StepWindow | None:
        """Feed a live count at a boundary; returns the step it closed, if it was one."""
        closed = None
        if self._open is not None and users != self._open.users:
            closed = self._close(counters)
        if self._open is None and users in self.plan.users:
            self._open = _OpenStep(users=users, start_ms=self.clock_ms(), counters=dict(counters))
        return closed

    def judge(self, figures: StepFigures) -> str | None:
        """Record a closed step's figures; the reason to stop now, or None to go on."""
        self.figures.append(figures)
        self.stop_reason = saturation_reason(
            requests_per_s=[f.requests_per_s for f in self.figures],
            error_rate=[f.error_rate for f in self.figures],
            delivery_p95_ms=[f.delivery_p95_ms for f in self.figures],
            slo_p95_ms=self.slo_p95_ms,
        )
        return self.stop_reason

    def open_step(self, *, users: int, counters: Mapping[str, float]) -> None:
        """Open a step at ``users`` now (the knee loop decides its targets itself)."""
        self._open = _OpenStep(users=users, start_ms=self.clock_ms(), counters=dict(counters))

    @property
    def open_since_ms(self) -> float | None:
        """When the open step started (epoch ms), or None when none is open."""
        return None if self._open is None else self._open.start_ms

    def close_step(self, *, counters: Mapping[str, float]) -> StepWindow | None:
        """Close the open step now; None when none is open or it was too short."""
        return self._close(counters) if self._open is not None else None

    def finish(self, *, counters: Mapping[str, float]) -> StepWindow | None:
        """Close the step still open when the swarm ended (it is not judged)."""
        return self._close(counters) if self._open is not None else None

    def rows(self) -> list[dict[str, Any]]:
        """One ``steps.csv`` row per completed step."""
        return [w.row() for w in self.windows]

    def process_rows(self) -> list[dict[str, Any]]:
        """Per step and Locust process: polls and polls/s (``meta.json``'s ``generator_steps``)."""
        return [row for w in self.windows for row in w.process_rows()]

    def _close(self, counters: Mapping[str, float]) -> StepWindow | None:
        assert self._open is not None
        start, self._open = self._open, None
        end_ms = self.clock_ms()
        if end_ms - start.start_ms < self.min_step_ms:
            return None
        window = StepWindow(
            users=start.users,
            start_ms=start.start_ms,
            end_ms=end_ms,
            steady_start_ms=start.start_ms + self.warmup_fraction * (end_ms - start.start_ms),
            counts=_deltas(counters, start.counters),
        )
        self.windows.append(window)
        return window


def _deltas(now: Mapping[str, float], then: Mapping[str, float]) -> dict[str, float]:
    return {key: float(value) - float(then.get(key, 0.0)) for key, value in now.items()}

