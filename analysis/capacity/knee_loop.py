"""The live knee ramp of ``pollcap capacity``: judge each step as it ends, say what comes next.

The decisions are :class:`analysis.model.knee_ramp.KneeRamp`'s (pure, tested on a fake
clock); this module is the I/O around them. On every progress tick (about once a
second) :class:`LiveKnee` feeds the ramp the swarm's live user count; at a hold's
start and end it snapshots the counters (:class:`~analysis.capacity.steps.StepTracker`
cuts the window); ``SETTLE_S`` after the end, once the recorders have flushed
every sample of the window, it computes the step's row of the report's own step
table (:func:`step_row`: ``stats.step_table`` over the window's samples and the
service's CPU, the generator verdict of ``analysis.model.generator``) and the ramp
decides. The next count goes to the run's ``next_users`` key
(:func:`loadtests.live_shape.publish_next_users`), which the Locust shape obeys
within its own caps: the swarm ends at its ``--run-time`` and never exceeds its
``max`` users even if this process dies.

So the stopping rule and the report read one set of numbers: the figures a
decision names are the ones the report's step table prints for that step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import redis

from analysis.capacity.probes import CountersProbe
from analysis.capacity.ramp import RampPlan
from analysis.capacity.resources import SAMPLE_INTERVAL_S
from analysis.capacity.steps import StepTracker, StepWindow
from analysis.model.generator import (
    generator_steps,
    mean_lateness_ms,
    window_means,
    with_schedule_shortfall,
)
from analysis.model.knee import (
    KneeRules,
    Phase,
    StepFigures,
    figures_from_table,
    push_warmup_fraction,
    schedule_interval_ms,
)
from analysis.model.knee_ramp import KneeRamp, Recovery
from analysis.model.stats import step_table
from loadtests.live_shape import publish_next_users
from loadtests.recording.recorder import FLUSH_INTERVAL_S
from loadtests.recording.samples import read_samples

SETTLE_S = FLUSH_INTERVAL_S + 1.0  # a recorder flush plus a resource sample after a hold
KNEE_BUDGET_S = 135.0  # from the first hold: with start-up and report, under 3 minutes
STARTUP_S = 12.0  # Locust's start and the first spawn, before the budget starts
KNEE_MAX_USERS = 20_000
SAMPLE_KINDS = ("poll", "message", "notification")
# the service has caught up on an overloaded step's backlog once no request fails any
# more and its CPU, sampled after the users were dropped, is under this share of its cores
DRAINED_CPU_SHARE = 0.9
RECOVERY = Recovery(min_s=2.0, max_s=8.0)


@dataclass(frozen=True, slots=True)
class KneeSettings:
    """The live ramp's bounds: ``max_users`` (``--max-users``) and the swarm's time cap."""

    max_users: int = KNEE_MAX_USERS
    budget_s: float = KNEE_BUDGET_S
    growth: float = 1.5
    max_refinements: int = 2
    recovery: Recovery = RECOVERY

    def shape_spec(self, plan: RampPlan) -> str:
        """The Locust ``--shape`` of this ramp: start at the plan's first count."""
        return f"live:start={min(plan.start, self.max_users)},max={self.max_users}"

    @property
    def swarm_s(self) -> float:
        """The swarm's ``--run-time``: the budget, one settle and Locust's start-up."""
        return self.budget_s + SETTLE_S + STARTUP_S


def resources_for_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The sampler's frame with the service's columns named as ``step_table`` reads them."""
    return frame.rename(columns={"service_cpu_percent": "cpu_percent",
                                 "service_rss_bytes": "rss_bytes"})


def service_drained(resources: pd.DataFrame, *, since_s: float, cores: float,
                    new_failures: float, share: float = DRAINED_CPU_SHARE) -> bool:
    """No failure since the last look, and the last CPU sample taken wholly after
    ``since_s`` is under ``share`` of the cores.

    ``resources`` is the sampler's frame (``t_ms`` at each sample's end, one per
    ``SAMPLE_INTERVAL_S``). No such sample yet: not drained."""
    if new_failures > 0 or resources.empty or "service_cpu_percent" not in resources:
        return False
    after = resources[resources["t_ms"] >= (since_s + SAMPLE_INTERVAL_S) * 1000.0]
    cpu = after["service_cpu_percent"].dropna()
    return bool(len(cpu)) and float(cpu.iloc[-1]) < share * 100.0 * cores


def step_row(*, window: StepWindow, samples: dict[str, pd.DataFrame],
             resources: pd.DataFrame, inputs: dict[str, Any],
             phase: Phase = "planned") -> StepFigures:
    """One closed step's figures exactly as the report computes them (pure).

    ``resources`` is the sampler's frame (raw column names), ``inputs`` the run's
    meta keys the report reads (``warmup_fraction``, ``nominal_interval_ms``,
    ``generator_processes``, ``service_cores``, ``realtime``: a push transport's
    throughput is its delivered messages/s).
    """
    warmup = float(inputs["warmup_fraction"])
    steps = pd.DataFrame([window.row()])
    table = step_table(steps=steps, samples=samples, resources=resources_for_table(resources),
                       warmup_fraction=warmup)
    gen = generator_steps(
        table, interval_ms=inputs.get("nominal_interval_ms"),
        generator_cores=float(inputs.get("generator_processes") or 1),
        service_cores=float(inputs.get("service_cores") or 1),
        generator_cpu_percent=window_means(steps, resources, column="generator_cpu_percent",
                                           warmup_fraction=warmup),
        late_ms=mean_lateness_ms(steps), warmup_fraction=warmup)
    saturated = [g.users for g in gen if g.saturated]
    table = with_schedule_shortfall(table, interval_ms=schedule_interval_ms(inputs),
                                    generator_bound=saturated, warmup_fraction=warmup)
    return figures_from_table(table, saturated_users=saturated, phases={window.users: phase},
                              push_warmup_fraction=push_warmup_fraction(inputs))[0]


@dataclass
class LiveKnee:
    """The runner's side of the knee ramp: a progress callback that ticks it."""

    ramp: KneeRamp
    tracker: StepTracker
    probe: CountersProbe
    client: redis.Redis
    run_id: str
    resources: Callable[[], pd.DataFrame]
    inputs: dict[str, Any]
    clock_s: Callable[[], float] = time.time
    published: int | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    _window: StepWindow | None = None
    _failures: tuple[float, float] | None = None  # (recovery start, failures) at the last look

    @classmethod
    def create(cls, *, plan: RampPlan, settings: KneeSettings, slo_p95_ms: float,
               max_error_rate: float, tracker: StepTracker, probe: CountersProbe,
               client: redis.Redis, run_id: str, resources: Callable[[], pd.DataFrame],
               inputs: dict[str, Any]) -> LiveKnee:
        rules = KneeRules(slo_p95_ms=slo_p95_ms, max_error_rate=max_error_rate,
                          max_users=settings.max_users, growth=settings.growth,
                          max_refinements=settings.max_refinements)
        planned = [u for u in plan.users if u <= settings.max_users] or [settings.max_users]
        live = cls(ramp=KneeRamp(planned=planned, rules=rules, hold_s=plan.hold_s,
                                 measure=lambda *_: StepFigures(0, math.nan, 0.0, None),
                                 budget_s=settings.budget_s, settle_s=SETTLE_S,
                                 spawn_timeout_s=10.0 + 2.0 * plan.step / plan.spawn_rate,
                                 recovery=settings.recovery),
                   tracker=tracker, probe=probe, client=client, run_id=run_id,
                   resources=resources, inputs=inputs)
        live.ramp.measure = live._measure
        live.ramp.drained = live._drained
        live.ramp.on_step_start = lambda users, _now: tracker.open_step(users=users,
                                                                        counters=probe())
        live.ramp.on_step_end = lambda _users, _now: live._close()
        return live

    @property
    def stop_reason(self) -> str | None:
        return self.ramp.stop_reason

    def tick(self, *, live_users: int) -> None:
        """One progress tick: advance the ramp and publish what the shape holds next."""
        users = self.ramp.tick(self.clock_s(), live_users=live_users)
        if users != self.published or users is None:
            publish_next_users(self.client, run_id=self.run_id, users=users)
            self.published = users

    def phases(self) -> dict[int, Phase]:
        """Each measured count's phase (``planned``, ``extend``, ``refine``), for the report."""
        return {s.users: s.phase for s in self.ramp.done}

    def _drained(self, since_s: float, _now_s: float) -> bool:
        """The recovery's drain signal: no failure since the last tick, CPU under busy."""
        failures = self.probe().get("failures", 0.0)
        last, self._failures = self._failures, (since_s, failures)
        new = failures - last[1] if last is not None and last[0] == since_s else math.inf
        return service_drained(self.resources(), since_s=since_s, new_failures=new,
                               cores=float(self.inputs.get("service_cores") or 1))

    def _close(self) -> None:
        self._window = self.tracker.close_step(counters=self.probe())

    def _measure(self, users: int, _start_s: float, _end_s: float) -> StepFigures:
        window, self._window = self._window, None
        if window is None:  # held under the tracker's minimum: no figures, count as failing
            return StepFigures(users=users, requests_per_s=math.nan, error_rate=1.0,
                               delivery_p95_ms=None)
        samples = {kind: read_samples(self.client, run_id=self.run_id, sample_type=kind,
                                      start_ms=window.start_ms, end_ms=window.end_ms)
                   for kind in SAMPLE_KINDS}
        fig = step_row(window=window, samples=samples, resources=self.resources(),
                       inputs=self.inputs)
        self.decisions.append({"users": users, "requests_per_s": fig.requests_per_s,
                               "error_rate": fig.error_rate,
                               "delivery_p95_ms": fig.delivery_p95_ms,
                               "generator_saturated": fig.generator_saturated})
        return fig

