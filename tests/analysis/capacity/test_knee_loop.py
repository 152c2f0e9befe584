"""The live knee loop: the figures each decision reads are the report's, and the loop's clock.

``step_row`` is checked against the report's own step table on a synthetic run (one set
of numbers); the loop's timing (hold from the live count, settle, hooks) on a fake clock.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.capacity.knee_loop import KneeSettings, service_drained, step_row
from analysis.capacity.ramp import make_plan
from analysis.capacity.steps import StepWindow
from analysis.model.knee import KneeRules, StepFigures
from analysis.model.knee_ramp import KneeRamp
from analysis.report.render import analyse
from analysis.synthetic import synthetic_capacity_data, synthetic_step_measure


def test_step_row_gives_the_report_tables_figures_for_every_step() -> None:
    data = synthetic_capacity_data(users=(200, 600, 1000, 1400), seed=3)
    report = analyse(data, bootstrap=0).table.set_index("users")
    raw = data.resources.rename(columns={"cpu_percent": "service_cpu_percent",
                                         "rss_bytes": "service_rss_bytes"})
    inputs = {"warmup_fraction": 0.25, "nominal_interval_ms": 2000.0,
              "generator_processes": 1, "service_cores": 1}
    for row in data.steps.to_dict("records"):
        counts = {k: float(v) for k, v in row.items()
                  if k not in ("users", "start_ms", "end_ms")}
        window = StepWindow(users=int(row["users"]), start_ms=float(row["start_ms"]),
                            end_ms=float(row["end_ms"]),
                            steady_start_ms=row["start_ms"] + 0.25 * (
                                row["end_ms"] - row["start_ms"]), counts=counts)
        fig = step_row(window=window, samples=data.samples, resources=raw, inputs=inputs)
        want = report.loc[window.users]
        assert fig.requests_per_s == pytest.approx(float(want["requests_per_s"]), rel=1e-12)
        assert fig.delivery_p95_ms == pytest.approx(float(want["delivery_p95_ms"]), rel=1e-12)
        assert fig.error_rate == pytest.approx(float(want["error_rate"]), rel=1e-12)


class _Clock:
    """A fake swarm: the live count follows the asked count at ``spawn_per_s``."""

    def __init__(self, *, spawn_per_s: float) -> None:
        self.now_s = 0.0
        self.live = 0
        self.spawn_per_s = spawn_per_s

    def step(self, target: int | None) -> None:
        self.now_s += 1.0
        if target is not None:
            gap = target - self.live
            move = int(min(abs(gap), self.spawn_per_s))
            self.live += move if gap > 0 else -move


def test_the_hold_starts_when_the_live_count_arrives_and_figures_wait_for_the_flush() -> None:
    events: list[tuple[str, int, float]] = []
    measured: list[tuple[int, float, float, float]] = []
    clock = _Clock(spawn_per_s=100)
    service = synthetic_step_measure(slo_users=1000)

    def measure(users: int, start_s: float, end_s: float) -> StepFigures:
        measured.append((users, start_s, end_s, clock.now_s))
        return service(users, start_s, end_s)

    ramp = KneeRamp(planned=(300, 600), rules=KneeRules(max_users=2000), hold_s=10,
                    measure=measure, settle_s=2.0, spawn_timeout_s=60,
                    on_step_start=lambda u, t: events.append(("start", u, t)),
                    on_step_end=lambda u, t: events.append(("end", u, t)))
    target: int | None = 0
    while target is not None and clock.now_s < 1000:
        target = ramp.tick(clock.now_s, live_users=clock.live)
        clock.step(target)
    starts = [(u, t) for kind, u, t in events if kind == "start"]
    assert starts[0] == (300, 3.0)  # 100 users/s: the count is there at t = 3 s
    for _users, start_s, end_s, at_s in measured:
        assert end_s - start_s >= 10 and at_s - end_s >= 2.0  # the hold, then the settle
    # planned, extend 600 * 1.5 = 900 (passes), 1350 (fails), then two bisections
    assert [m[0] for m in measured] == [300, 600, 900, 1350, 1125, 1012]
    assert ramp.stop_reason == "refined the SLO crossing"
    assert [k for k, _u, _t in events] == ["start", "end"] * len(measured)


def test_a_count_that_never_arrives_starts_its_hold_at_the_spawn_timeout() -> None:
    ramp = KneeRamp(planned=(500,), rules=KneeRules(max_users=500), hold_s=5,
                    measure=synthetic_step_measure(slo_users=1e6), spawn_timeout_s=8)
    assert ramp.tick(0.0, live_users=0) == 500
    assert all(ramp.tick(t, live_users=10) == 500 for t in (1.0, 7.0, 8.0, 12.0))
    assert ramp.tick(13.0, live_users=10) is None  # held 8-13 s, then max users reached
    assert ramp.stop_reason == "reached --max-users (500)"


def test_knee_plans_and_settings_bound_the_default_run() -> None:
    plan = make_plan(quick=False, knee=True)
    settings = KneeSettings()
    assert plan.users == (500, 1500, 2500, 3500)
    assert settings.shape_spec(plan) == "live:start=500,max=20000"
    assert settings.swarm_s < 180 - 20  # stack, service and report fit the 3 minutes
    tiny = make_plan(quick=False, knee=True, start_users=6, step_users=6, max_users=20,
                     plan_steps=2)
    assert tiny.users == (6, 12)


def test_figures_read_from_an_empty_window_fail_the_step() -> None:
    raw = pd.DataFrame(columns=["t_ms", "service_cpu_percent", "service_rss_bytes"])
    window = StepWindow(users=10, start_ms=0.0, end_ms=10_000.0, steady_start_ms=2500.0,
                        counts={"requests": 0.0, "failures": 0.0})
    empty = {k: pd.DataFrame({"t_ms": pd.Series([], dtype="int64"),
                              "user": pd.Series([], dtype=str),
                              "latency_ms": pd.Series([], dtype=float)})
             for k in ("poll", "message", "notification")}
    fig = step_row(window=window, samples=empty, resources=raw,
                   inputs={"warmup_fraction": 0.25, "nominal_interval_ms": 2000.0})
    assert fig.requests_per_s == 0.0 and fig.delivery_p95_ms is None


def test_the_service_has_drained_once_a_cpu_sample_after_the_drop_is_under_its_busy_level(
) -> None:
    # samples at the end of each second; the users were dropped at t = 100 s
    frame = pd.DataFrame({"t_ms": [100_500.0, 101_000.0, 102_000.0, 103_000.0],
                          "service_cpu_percent": [40.0, 99.0, 97.0, 55.0]})
    def drained(rows: pd.DataFrame, *, cores: float = 1, new_failures: float = 0) -> bool:
        return service_drained(rows, since_s=100.0, cores=cores, new_failures=new_failures)

    assert not drained(frame.iloc[:1])  # no sample from after the drop + 1 s yet
    assert not drained(frame.iloc[:3])  # still busy
    assert drained(frame)
    assert not drained(frame, new_failures=3)  # requests still failing: not drained
    assert drained(frame.iloc[:3], cores=2)  # 97% of 2 cores is not busy
    assert not drained(frame.iloc[:0])
    assert KneeSettings().recovery.max_s <= 10  # the pause stays short against the budget
