"""The capacity run's step ramp and its stopping rule, as pure functions.

A capacity run holds each user count long enough to reach steady state and stops by
itself past saturation: more than 5% errors, p95 delivery latency over 3x the SLO, or
throughput falling while users grow. The runner asks :func:`saturation_reason` after
every completed step.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR_RATE_STOP = 0.05
DELIVERY_P95_STOP_FACTOR = 3.0
THROUGHPUT_DROP_STOP = 0.9  # rps below 90% of the best step so far = falling


@dataclass(frozen=True, slots=True)
class RampPlan:
    """User counts of the steps and how long each is held (the first includes warm-up)."""

    users: tuple[int, ...]
    hold_s: float
    spawn_rate: float

    @property
    def duration_s(self) -> float:
        return self.hold_s * len(self.users)


DEFAULT_PLAN = RampPlan(users=(200, 600, 1200, 2000, 2800, 3600, 4400, 5200), hold_s=24.0, spawn_rate=400.0)
QUICK_PLAN = RampPlan(users=(100, 400, 800, 1400, 2000), hold_s=12.0, spawn_rate=400.0)


def make_plan(*, quick: bool, max_users: int | None, start_users: int | None = None,
              step_users: int | None = None, hold_s: float | None = None,
              spawn_rate: float | None = None) -> RampPlan:
    """The default (or ``--quick``) ramp, cut at ``max_users`` or rebuilt from explicit steps."""
    base = QUICK_PLAN if quick else DEFAULT_PLAN
    users = list(base.users)
    if start_users is not None or step_users is not None:
        start = start_users or users[0]
        step = step_users or max(start, 100)
        top = max_users or users[-1]
        users = list(range(start, top + 1, step)) or [start]
    if max_users is not None:
        users = [n for n in users if n < max_users] + [max_users]
        users = sorted(set(users))
    return RampPlan(users=tuple(users), hold_s=hold_s or base.hold_s,
                    spawn_rate=spawn_rate or base.spawn_rate)


def saturation_reason(
    *, rps: list[float], error_rate: list[float], delivery_p95_ms: list[float | None],
    slo_p95_ms: float,
) -> str | None:
    """Why the ramp should stop after the last step, or None to go on.

    Lists run over completed steps in order; only the last step can trigger a stop,
    except that falling throughput compares it with the best earlier step.
    """
    if not rps:
        return None
    if error_rate[-1] > ERROR_RATE_STOP:
        return f"errors {error_rate[-1]:.1%} > {ERROR_RATE_STOP:.0%}"
    p95 = delivery_p95_ms[-1]
    if p95 is not None and p95 > DELIVERY_P95_STOP_FACTOR * slo_p95_ms:
        return f"p95 delivery {p95:.0f} ms > {DELIVERY_P95_STOP_FACTOR:g}x SLO ({slo_p95_ms:.0f} ms)"
    if len(rps) >= 2 and rps[-1] < THROUGHPUT_DROP_STOP * max(rps[:-1]):
        return f"throughput fell to {rps[-1]:.0f} req/s from {max(rps[:-1]):.0f} req/s"
    return None
