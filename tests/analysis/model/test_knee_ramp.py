"""The knee ramp's clock: the recovery pause before a refinement after an overloaded step.

Fake clock and synthetic steps: a service whose p95 crosses the SLO at ``slo_users``
and whose backlog drains ``drain_s`` after the users are dropped.
"""

from __future__ import annotations

from analysis.model.knee import Decision, KneeRules, StepFigures
from analysis.model.knee_ramp import (
    KneeRamp,
    Recovery,
    needs_recovery,
    recovered,
)
from analysis.synthetic import synthetic_step_measure

PLANNED = (300, 600)
RECOVERY = Recovery(min_s=2.0, max_s=8.0)


def _play(ramp: KneeRamp) -> list[tuple[float, int]]:
    """(time, users) each time the held count changes, ticking once a second."""
    held: list[tuple[float, int]] = []
    now = 0.0
    while now < 10_000:
        users = ramp.tick(now)
        if users is None:
            return held
        if not held or held[-1][1] != users:
            held.append((now, users))
        now += 1.0
    raise AssertionError("the ramp never stopped")


def _drains_after(drain_s: float, calls: list[float]):
    def drained(since_s: float, now_s: float) -> bool:
        calls.append(now_s - since_s)
        return now_s - since_s >= drain_s
    return drained


def test_users_drop_and_the_refinement_waits_until_the_service_drained() -> None:
    calls: list[float] = []
    measured: list[tuple[int, float, float, float]] = []
    service = synthetic_step_measure(slo_users=1000)

    def measure(users: int, start_s: float, end_s: float) -> StepFigures:
        measured.append((users, start_s, end_s, 0.0))
        return service(users, start_s, end_s)

    ramp = KneeRamp(planned=PLANNED, rules=KneeRules(max_users=5000), hold_s=10,
                    measure=measure, recovery=RECOVERY, drained=_drains_after(4.0, calls))
    held = _play(ramp)
    # planned 300, 600; extend 900 (passes), 1350 (fails): drop to 1125 and wait, bisect
    # 1125 (fails): drop to 1012 and wait, bisect 1012
    assert [u for _t, u in held] == [300, 600, 900, 1350, 1125, 1012]
    assert [(u, to - since) for u, since, to in ramp.recoveries] == [(1125, 4.0), (1012, 4.0)]
    assert min(calls) >= RECOVERY.min_s  # the signal is asked only after the idle minimum
    (_u, paused_s, _to), _second = ramp.recoveries
    start_s = {u: s for u, s, _e, _at in measured}
    assert start_s[1125] >= paused_s + 4.0  # its hold starts once the backlog was served
    assert [s.phase for s in ramp.done][-2:] == ["refine", "refine"]


def test_the_pause_is_capped_when_the_service_never_drains_and_floored_when_it_has() -> None:
    never = KneeRamp(planned=(1000, 1500), rules=KneeRules(max_users=1500), hold_s=10,
                     measure=synthetic_step_measure(slo_users=1200), recovery=RECOVERY,
                     drained=lambda _since, _now: False)
    _play(never)
    # 1500 and the first bisection (1250) both fail: two pauses
    assert [to - since for _u, since, to in never.recoveries] == [RECOVERY.max_s] * 2
    at_once = KneeRamp(planned=(1000, 1500), rules=KneeRules(max_users=1500), hold_s=10,
                       measure=synthetic_step_measure(slo_users=1200), recovery=RECOVERY,
                       drained=lambda _since, _now: True)
    _play(at_once)
    assert [to - since for _u, since, to in at_once.recoveries] == [RECOVERY.min_s] * 2


def test_a_refinement_after_a_passing_step_needs_no_pause() -> None:
    # 1500 fails; 1250 (first bisection) passes at slo 1300; 1375 follows at once
    ramp = KneeRamp(planned=(1000, 1500), rules=KneeRules(max_users=1500), hold_s=10,
                    measure=synthetic_step_measure(slo_users=1300), recovery=RECOVERY,
                    drained=lambda _since, _now: True)
    held = [u for _t, u in _play(ramp)]
    assert held == [1000, 1500, 1250, 1375]
    assert len(ramp.recoveries) == 1


def test_the_budget_counts_the_pause() -> None:
    # 1000 and 1500 take 20 s of hold; a refinement needs 2 s of pause + 10 s of hold
    tight = KneeRamp(planned=(1000, 1500), rules=KneeRules(max_users=1500), hold_s=10,
                     budget_s=31, measure=synthetic_step_measure(slo_users=1200), recovery=RECOVERY)
    assert [u for _t, u in _play(tight)] == [1000, 1500]
    assert tight.stop_reason is not None and tight.stop_reason.startswith("time budget 31 s")
    assert tight.recoveries == []
    roomy = KneeRamp(planned=(1000, 1500), rules=KneeRules(max_users=1500), hold_s=10,
                     budget_s=33, measure=synthetic_step_measure(slo_users=1200), recovery=RECOVERY)
    assert [u for _t, u in _play(roomy)] == [1000, 1500, 1250]
    assert len(roomy.recoveries) == 1


def test_recovery_rules_are_pure() -> None:
    rules = KneeRules()
    ok = StepFigures(users=1000, requests_per_s=500, error_rate=0.0, delivery_p95_ms=2000)
    over = StepFigures(users=2000, requests_per_s=600, error_rate=0.0, delivery_p95_ms=5000)
    errors = StepFigures(users=2000, requests_per_s=600, error_rate=0.2, delivery_p95_ms=900)
    refine = Decision(users=1500, phase="refine", reason="bisect")
    assert needs_recovery([ok, over], refine, rules=rules)
    assert needs_recovery([ok, errors], refine, rules=rules)
    assert not needs_recovery([over, ok], refine, rules=rules)
    assert not needs_recovery([ok, over], Decision(users=3000, phase="extend", reason=""),
                              rules=rules)
    rec = Recovery(min_s=2.0, max_s=6.0)
    assert not recovered(since_s=10.0, now_s=11.0, recovery=rec, drained=None)
    assert recovered(since_s=10.0, now_s=12.0, recovery=rec, drained=None)
    assert not recovered(since_s=10.0, now_s=15.0, recovery=rec, drained=lambda *_: False)
    assert recovered(since_s=10.0, now_s=16.0, recovery=rec, drained=lambda *_: False)
