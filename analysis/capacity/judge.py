"""Judging a capacity run's steps as they end (the runner's progress callback calls it).

The live knee ramp (:mod:`analysis.capacity.knee_loop`) or, with ``knee=None``, the
fixed step ramp's stopping rule (:class:`~analysis.capacity.steps.StepTracker`). Both
read a step's figures with :func:`~analysis.capacity.knee_loop.step_row`, the report's
own computation: the old rule counted chat polls over the steady part where the report
counts every request over the whole step (issue 12: "throughput fell to 1848 req/s
from 2110 req/s" beside a table with 2,427 and 2,691).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import redis

from analysis.capacity.knee_loop import SAMPLE_KINDS, LiveKnee, step_row
from analysis.capacity.probes import CountersProbe
from analysis.capacity.setup import available_cpus
from analysis.capacity.steps import StepFigures as TrackerFigures
from analysis.capacity.steps import StepTracker
from analysis.defaults import PLAN_DEFAULTS
from loadtests.clients.providers.factory import PUSH_TRANSPORTS, choose_transport
from loadtests.recording.samples import read_samples
from target_service.policy import load_policy

if TYPE_CHECKING:
    from analysis.capacity.run import CapacityConfig


def step_inputs(cfg: CapacityConfig) -> dict[str, Any]:
    """The meta keys the report's step figures read (the live judge reads the same)."""
    return {
        "warmup_fraction": cfg.warmup_fraction,
        "nominal_interval_ms": run_interval_ms(cfg),
        "generator_processes": cfg.processes,
        "service_cores": len(available_cpus(cfg.service_cpus) or os.sched_getaffinity(0)),
        "realtime": run_transport(cfg),
    }


def run_transport(cfg: CapacityConfig) -> str:
    """The users' transport: ``--realtime``, else the design's ``REALTIME`` rule."""
    return choose_transport(option=cfg.scenario.realtime or None, environ=os.environ)


@dataclass
class StepJudge:
    """Judges steps as they end: the live knee ramp, or the fixed ramp's stopping rule.

    Both read a step's figures with :func:`~analysis.capacity.knee_loop.step_row`, the
    report's own computation, so a stop reason names the numbers the table shows.
    """

    cfg: CapacityConfig
    tracker: StepTracker
    probe: CountersProbe
    client: redis.Redis
    run_id: str
    resources: Callable[[], pd.DataFrame]
    knee: LiveKnee | None = None

    def __post_init__(self) -> None:
        if self.cfg.knee is not None:
            self.knee = LiveKnee.create(
                plan=self.cfg.plan, settings=self.cfg.knee, slo_p95_ms=self.cfg.slo_p95_ms,
                max_error_rate=PLAN_DEFAULTS.max_error_rate, tracker=self.tracker,
                probe=self.probe, client=self.client, run_id=self.run_id,
                resources=self.resources, inputs=step_inputs(self.cfg))

    @property
    def stop_reason(self) -> str | None:
        return self.knee.stop_reason if self.knee else self.tracker.stop_reason

    def observe(self, *, users: int) -> bool:
        """Feed the live count; True when the swarm must be interrupted now."""
        if self.knee is not None:
            self.knee.tick(live_users=users)  # the shape stops itself on ``stop``
            return False
        return self._fixed(users=users)

    def _fixed(self, *, users: int) -> bool:
        tracker = self.tracker
        if not tracker.needs_counters(users=users):
            return False
        closed = tracker.observe(users=users, counters=self.probe())
        if closed is None:
            return False
        samples = {kind: read_samples(self.client, run_id=self.run_id, sample_type=kind,
                                      start_ms=closed.start_ms, end_ms=closed.end_ms)
                   for kind in SAMPLE_KINDS}
        fig = step_row(window=closed, samples=samples, resources=self.resources(),
                       inputs=step_inputs(self.cfg))
        return tracker.judge(TrackerFigures(requests_per_s=fig.requests_per_s,
                                            error_rate=fig.error_rate,
                                            delivery_p95_ms=fig.delivery_p95_ms)) is not None


def run_interval_ms(cfg: CapacityConfig) -> float | None:
    """The run's fixed poll interval; None for a push transport (its users do not poll).

    Little's law (users / interval) and the polling floor hold for polling users only:
    a WebSocket step read against a 2 s interval looked generator-saturated.
    """
    if run_transport(cfg) in PUSH_TRANSPORTS:
        return None
    return nominal_interval_ms(client_policy=cfg.client_policy, service_policy=cfg.policy)


def nominal_interval_ms(*, client_policy: str, service_policy: str) -> float | None:
    """The fixed interval users poll at, when there is one (for the delivery floor).

    Takes the policy *specs* (preset name or JSON path): users obeying the server
    (``client_policy="server"``) poll at the service policy's interval.
    """
    spec = service_policy if client_policy == "server" else client_policy
    policy = load_policy(spec)
    if not policy.thresholds and not policy.rate_thresholds and policy.load_factor == 1.0:
        return float(policy.default_ms)
    return None
