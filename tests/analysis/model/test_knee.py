"""The knee-finding ramp: extension, stop rules and refinement, on a fake clock."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.model.knee import (
    KneeRules,
    StepFigures,
    bent,
    crossing,
    figures_from_table,
    next_step,
    push_warmup_fraction,
)
from analysis.model.knee_ramp import KneeRamp
from analysis.model.push import push_table
from analysis.model.stats import step_table
from analysis.model.usl import usl_throughput

PLANNED = (250, 750, 1250, 1750)


def _service(*, slo_users: float, saturate_users: float = 1e9,
             kappa: float = 0.0) -> callable:  # type: ignore[valid-type]
    """A synthetic service: p95 crosses 3000 ms at ``slo_users``; generator saturates beyond."""
    def measure(users: int, start_s: float, end_s: float) -> StepFigures:
        assert end_s > start_s
        p95 = 1200.0 + 1800.0 * (users / slo_users) ** 3
        rps = float(usl_throughput(users, sigma=0.0, kappa=kappa, lambda_=0.5))
        return StepFigures(users=users, requests_per_s=rps, error_rate=0.0, delivery_p95_ms=p95,
                           generator_saturated=users > saturate_users)
    return measure


def _play(ramp: KneeRamp, *, step_s: float = 1.0, limit_s: float = 10_000) -> list[int]:
    """Tick a fake clock; the distinct held user counts in order."""
    held: list[int] = []
    now = 0.0
    while now < limit_s:
        users = ramp.tick(now)
        if users is None:
            return held
        if not held or held[-1] != users:  # consecutive steps never repeat a count
            held.append(users)
        now += step_s
    raise AssertionError("the ramp never stopped")


def test_a_plan_that_ends_under_the_slo_extends_then_bisects_the_crossing() -> None:
    rules = KneeRules(max_users=20_000, growth=1.5)
    ramp = KneeRamp(planned=PLANNED, rules=rules, hold_s=10, measure=_service(slo_users=3300))
    held = _play(ramp)
    # planned, then 1750 * 1.5 = 2625 (pass), 3938 (fail), then two bisections
    assert held[:6] == [250, 750, 1250, 1750, 2625, 3938]
    assert [s.phase for s in ramp.done][4:] == ["extend", "extend", "refine", "refine"]
    assert held[6] == (2625 + 3938) // 2  # 3281: passes (just under 3300)
    assert held[7] == (3281 + 3938) // 2
    lo, hi = crossing(ramp.done, rules=rules)  # type: ignore[misc]
    assert lo <= 3300 < hi and hi - lo <= (3938 - 2625) / 4 + 1
    assert ramp.stop_reason == "refined the SLO crossing"


def test_max_users_bounds_the_extension_and_no_crossing_means_no_refinement() -> None:
    rules = KneeRules(max_users=3000)
    ramp = KneeRamp(planned=PLANNED, rules=rules, hold_s=10, measure=_service(slo_users=1e6))
    assert _play(ramp) == [250, 750, 1250, 1750, 2625, 3000]
    assert ramp.stop_reason == "reached --max-users (3000)"


def test_a_saturated_generator_stops_the_ramp() -> None:
    rules = KneeRules()
    ramp = KneeRamp(planned=PLANNED, rules=rules, hold_s=10,
                    measure=_service(slo_users=1e6, saturate_users=2000))
    assert _play(ramp) == [250, 750, 1250, 1750, 2625, 3938]  # two saturated steps in a row
    assert ramp.stop_reason == "load generator saturated at 2625 and 3938 users"


def test_one_saturated_step_alone_does_not_stop_the_ramp() -> None:
    blip = [StepFigures(users=500, requests_per_s=250, error_rate=0, delivery_p95_ms=2000,
                        generator_saturated=True)]
    decision = next_step(planned=(500, 1500), done=blip, rules=KneeRules())
    assert decision.users == 1500 and decision.phase == "planned"


def test_throughput_that_bends_stops_the_extension() -> None:
    # kappa makes X(N) peak near sqrt(1/kappa) = 4472 users: the marginal gain at 3938
    # users (0.10 req/s per user) is under half the average at 2625 (0.19)
    ramp = KneeRamp(planned=PLANNED, rules=KneeRules(), hold_s=10,
                    measure=_service(slo_users=1e6, kappa=5e-8))
    assert _play(ramp) == [250, 750, 1250, 1750, 2625, 3938]
    assert ramp.stop_reason == "throughput bends at 3938 users (1109 req/s)"
    steep = KneeRamp(planned=PLANNED, rules=KneeRules(), hold_s=10,
                     measure=_service(slo_users=1e6, kappa=2e-7))
    assert _play(steep) == list(PLANNED)  # bent already inside the plan: no extension


def test_a_planned_step_over_the_slo_is_bisected_without_extension() -> None:
    ramp = KneeRamp(planned=PLANNED, rules=KneeRules(), hold_s=10,
                    measure=_service(slo_users=1000))
    held = _play(ramp)
    assert held[:4] == list(PLANNED)  # 1250, 1750 fail under 3x the SLO: the plan goes on
    assert held[4:] == [1000, 1125]  # bisect 750-1250; 1000 meets it (p95 = SLO): 1000-1250
    assert all(s.phase != "extend" for s in ramp.done)


def test_the_time_budget_stops_before_a_step_that_would_overrun_it() -> None:
    ramp = KneeRamp(planned=PLANNED, rules=KneeRules(), hold_s=10, budget_s=45,
                    measure=_service(slo_users=1e6))
    assert _play(ramp) == [250, 750, 1250, 1750]
    assert ramp.stop_reason is not None and ramp.stop_reason.startswith("time budget 45 s")
    assert ramp.tick(1000.0) is None


def test_next_step_is_pure_and_reads_the_stop_rules() -> None:
    rules = KneeRules()
    assert next_step(planned=PLANNED, done=[], rules=rules).users == 250
    errors = [StepFigures(users=250, requests_per_s=100, error_rate=0.2, delivery_p95_ms=900)]
    decision = next_step(planned=PLANNED, done=errors, rules=rules)
    assert decision.users is None and decision.reason.startswith("errors 20.0%")
    flat = [StepFigures(users=1000, requests_per_s=500, error_rate=0, delivery_p95_ms=900),
            StepFigures(users=2000, requests_per_s=560, error_rate=0, delivery_p95_ms=900)]
    assert bent(flat, rules=rules) and not bent(flat[:1], rules=rules)


def test_figures_come_from_the_report_step_table() -> None:
    table = pd.DataFrame({"users": [500, 100], "start_ms": [2, 1], "requests_per_s": [250.0, 50.0],
                          "error_rate": [float("nan"), 0.0],
                          "delivery_p95_ms": [3100.0, float("nan")]})
    figs = figures_from_table(table, saturated_users=[500], phases={500: "extend"})
    assert [f.users for f in figs] == [100, 500]
    assert figs[0].delivery_p95_ms is None and figs[1].error_rate == 0.0
    assert figs[1].generator_saturated and figs[1].phase == "extend"
    assert not figs[0].generator_saturated


@pytest.mark.parametrize("growth", [1.25, 2.0])
def test_extension_steps_are_geometric(growth: float) -> None:
    rules = KneeRules(growth=growth, max_users=100_000)
    done = [StepFigures(users=1000, requests_per_s=500, error_rate=0, delivery_p95_ms=900)]
    decision = next_step(planned=(1000,), done=done, rules=rules)
    assert decision.phase == "extend" and decision.users == int(1000 * growth)


def _push_step(users: int, *, delivered_per_s: float) -> StepFigures:
    # a push step's requests are its subscribes: flat while users grow
    return StepFigures(users=users, requests_per_s=5.0, error_rate=0.0, delivery_p95_ms=200.0,
                       delivered_per_s=delivered_per_s)


def test_push_steps_bend_on_delivered_messages_not_requests() -> None:
    rules = KneeRules()
    growing = [_push_step(1000, delivered_per_s=1000.0), _push_step(2000, delivered_per_s=1990.0)]
    assert not bent(growing, rules=rules)  # requests/s alone (flat 5/s) would read "bent"
    as_polling = [StepFigures(users=s.users, requests_per_s=s.requests_per_s, error_rate=0.0,
                              delivery_p95_ms=200.0) for s in growing]
    assert bent(as_polling, rules=rules)
    flat = [_push_step(1000, delivered_per_s=1000.0), _push_step(2000, delivered_per_s=1200.0)]
    assert bent(flat, rules=rules)
    decision = next_step(planned=(1000, 2000), done=[replace(s, phase="planned") for s in flat],
                         rules=rules)
    assert decision.users is None
    assert decision.reason == "throughput bends at 2000 users (1200 delivered msg/s)"


def test_push_throughput_that_falls_stops_the_plan_in_delivered_messages() -> None:
    fell = [_push_step(1000, delivered_per_s=1000.0), _push_step(2000, delivered_per_s=800.0)]
    decision = next_step(planned=(1000, 2000, 3000), done=fell, rules=KneeRules())
    assert decision.users is None
    assert decision.reason.startswith(
        "throughput fell to 800 delivered msg/s from 1000 delivered msg/s")
    steady = [_push_step(1000, delivered_per_s=1000.0), _push_step(2000, delivered_per_s=2000.0)]
    assert next_step(planned=(1000, 2000, 3000), done=steady, rules=KneeRules()).users == 3000


def test_push_figures_read_delivered_messages_per_second_as_the_push_table_does() -> None:
    # 2 steps of 8 s; warm-up 25%: the steady part is the last 6 s of each
    times = np.concatenate([np.arange(0, 8000, 10), np.arange(8000, 16000, 4)])
    messages = pd.DataFrame({"t_ms": times, "user": "u", "latency_ms": 100.0})
    steps = pd.DataFrame({"users": [100, 200], "start_ms": [0, 8000], "end_ms": [8000, 16000]})
    table = step_table(steps=steps, samples={"message": messages}, warmup_fraction=0.25)
    figs = figures_from_table(table, push_warmup_fraction=0.25)
    resources = pd.DataFrame({"t_ms": np.arange(0, 16000, 1000), "cpu_percent": 50.0,
                              "rss_bytes": 1e8})
    push = push_table(steps=steps, resources=resources, messages=messages, warmup_fraction=0.25)
    assert [f.delivered_per_s for f in figs] == pytest.approx(list(push["delivered_per_s"]))
    assert [f.throughput_per_s for f in figs] == pytest.approx([100.0, 250.0])
    polling = figures_from_table(table)
    assert all(f.delivered_per_s is None and f.throughput_per_s == f.requests_per_s
               for f in polling)
    assert push_warmup_fraction({"realtime": "websocket", "warmup_fraction": 0.25}) == 0.25
    assert push_warmup_fraction({"realtime": "polling", "warmup_fraction": 0.25}) is None


def test_a_step_short_of_its_poll_schedule_fails_as_the_report_judges_it() -> None:
    from analysis.model.knee import KneeRules, StepFigures, passes

    rules = KneeRules()
    kept = StepFigures(users=2000, requests_per_s=1000.0, error_rate=0.0,
                       delivery_p95_ms=1500.0, schedule_shortfall=0.02)
    thinned = StepFigures(users=3500, requests_per_s=1400.0, error_rate=0.0,
                          delivery_p95_ms=2400.0, schedule_shortfall=0.19)
    unjudged = StepFigures(users=3500, requests_per_s=1400.0, error_rate=0.0,
                           delivery_p95_ms=2400.0)
    assert passes(kept, rules=rules) and passes(unjudged, rules=rules)
    assert not passes(thinned, rules=rules)
