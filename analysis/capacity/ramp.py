"""The capacity run's step ramp and its stopping rule, as pure functions.

A capacity run holds each user count long enough to reach steady state and stops by
itself past saturation: more than 5% errors, p95 delivery latency over 3x the SLO, or
throughput falling while users grow. :class:`analysis.capacity.steps.StepTracker`
asks :func:`saturation_reason` after every completed step.
"""

from __future__ import annotations

from dataclasses import dataclass

from target_service.errors import UserError

ERROR_RATE_STOP = 0.05
DELIVERY_P95_STOP_FACTOR = 3.0
THROUGHPUT_DROP_STOP = 0.9  # rps below 90% of the best step so far = falling


@dataclass(frozen=True, slots=True)
class RampPlan:
    """A uniform step ramp: ``start``, ``start + step``, ... ``max_users``, each held ``hold_s``."""

    start: int
    step: int
    max_users: int
    hold_s: float
    spawn_rate: float

    @property
    def users(self) -> tuple[int, ...]:
        counts = list(range(self.start, self.max_users + 1, self.step))
        if counts[-1] != self.max_users:
            counts.append(self.max_users)
        return tuple(counts)

    @property
    def duration_s(self) -> float:
        return self.hold_s * len(self.users)

    def shape_spec(self) -> str:
        """The ``--shape`` spec of ``loadtests.shapes`` playing this ramp."""
        return (
            f"step:start={self.start},step={self.step},hold={self.hold_s:g}s,max={self.max_users}"
        )


DEFAULT_PLAN = RampPlan(start=250, step=500, max_users=4750, hold_s=18.0, spawn_rate=500.0)
QUICK_PLAN = RampPlan(start=100, step=400, max_users=1700, hold_s=12.0, spawn_rate=400.0)
# the knee ramp's planned part is coarse: it extends and bisects by itself (issue 12)
KNEE_PLAN = RampPlan(start=500, step=1000, max_users=3500, hold_s=15.0, spawn_rate=500.0)
KNEE_QUICK_PLAN = RampPlan(start=200, step=600, max_users=1400, hold_s=12.0, spawn_rate=400.0)


def make_plan(
    *,
    quick: bool,
    knee: bool = False,
    max_users: int | None = None,
    start_users: int | None = None,
    step_users: int | None = None,
    hold_s: float | None = None,
    spawn_rate: float | None = None,
    plan_steps: int | None = None,
) -> RampPlan:
    """The default (or ``--quick``) ramp with any of its parts overridden.

    With ``knee`` the plan is the knee ramp's planned part, ``plan_steps`` counts from
    ``start`` by ``step`` (default: the base plan's 4 or 3): ``max_users`` caps it (and
    bounds the extension, which :class:`~analysis.capacity.knee_loop.KneeSettings`
    holds) rather than stretching the planned steps up to it.
    """
    if knee:
        base = KNEE_QUICK_PLAN if quick else KNEE_PLAN
    else:
        base = QUICK_PLAN if quick else DEFAULT_PLAN
    start = start_users or base.start
    step = step_users or base.step
    top = max_users or max(base.max_users, start)
    if knee:
        steps = plan_steps or len(base.users)
        top = start + (steps - 1) * step if max_users is None else max(
            min(max_users, start + (steps - 1) * step), min(start, max_users))
    if start < 1 or step < 1 or top < start:
        raise UserError(
            f"a ramp needs start >= 1, step >= 1 and max >= start "
            f"(got start={start}, step={step}, max={top})"
        )
    if hold_s is not None and hold_s < 4:
        raise UserError(f"--hold must be at least 4 s to reach steady state, got {hold_s:g} s")
    return RampPlan(
        start=start,
        step=step,
        max_users=top,
        hold_s=hold_s or base.hold_s,
        spawn_rate=spawn_rate or base.spawn_rate,
    )


def saturation_reason(
    *,
    requests_per_s: list[float],
    error_rate: list[float],
    delivery_p95_ms: list[float | None],
    slo_p95_ms: float,
) -> str | None:
    """Why the ramp should stop after the last step, or None to go on.

    Lists run over completed steps in order; only the last step can trigger a stop,
    except that falling throughput compares it with the best earlier step.
    """
    rps = requests_per_s
    if not rps:
        return None
    if error_rate[-1] > ERROR_RATE_STOP:
        return f"errors {error_rate[-1]:.1%} > {ERROR_RATE_STOP:.0%}"
    p95 = delivery_p95_ms[-1]
    if p95 is not None and p95 > DELIVERY_P95_STOP_FACTOR * slo_p95_ms:
        return (
            f"p95 delivery {p95:.0f} ms > {DELIVERY_P95_STOP_FACTOR:g}x SLO ({slo_p95_ms:.0f} ms)"
        )
    if len(rps) >= 2 and rps[-1] < THROUGHPUT_DROP_STOP * max(rps[:-1]):
        return f"throughput fell to {rps[-1]:.0f} req/s from {max(rps[:-1]):.0f} req/s"
    return None
