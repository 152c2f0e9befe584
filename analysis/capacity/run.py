"""``pollcap capacity``'s orchestration: stack, service, step-ramp swarm, collection.

:func:`run_capacity` reads as its steps: start the stack, start the service, ramp
the swarm while :class:`~analysis.capacity.steps.StepTracker` cuts steps and applies
the stopping rule (a saturated run is stopped early with SIGINT, so Locust still
writes its CSVs), collect the samples, assemble the :class:`~analysis.runs.RunData`
the report is built from. Counters come from :mod:`analysis.capacity.probes`,
CPU/RSS from :mod:`analysis.capacity.resources`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from analysis.capacity.judge import StepJudge, run_interval_ms, run_transport
from analysis.capacity.knee_loop import KneeSettings, LiveKnee, resources_for_table
from analysis.capacity.probes import CountersProbe
from analysis.capacity.push_probe import PushSampler, with_push_columns
from analysis.capacity.ramp import RampPlan
from analysis.capacity.resources import ResourceSampler
from analysis.capacity.setup import available_cpus, capacity_setup
from analysis.capacity.steps import StepTracker
from analysis.defaults import PLAN_DEFAULTS, RUNS_DIR
from analysis.runs import RunData
from loadtests.clients.providers.factory import PUSH_TRANSPORTS
from loadtests.recording.recorder import new_run_id
from loadtests.recording.samples import read_samples
from loadtests.swarm.run import MasterSpec, ScenarioParams, SwarmProgress, SwarmResult, run_swarm
from target_service.embedded.stack import Stack, StackInfo
from target_service.errors import UserError
from target_service.policy import load_policy
from target_service.serve import run_service
from target_service.settings import Settings

SAMPLE_KINDS = ("poll", "message", "notification")


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    plan: RampPlan
    slo_p95_ms: float = PLAN_DEFAULTS.slo_p95_ms
    target_users: int | None = None
    headroom: float = PLAN_DEFAULTS.headroom
    price_per_million_usd: float = PLAN_DEFAULTS.price_per_million_usd
    warmup_fraction: float = PLAN_DEFAULTS.warmup_fraction
    policy: str = "fixed-2s"  # the service's interval policy
    client_policy: str = "fixed-2s"
    cache_mode: str = "fresh"
    workers: int = 1
    service_cpus: tuple[int, ...] | None = (0,)
    generator_cpus: tuple[int, ...] | None = (1,)
    processes: int = 1
    master: MasterSpec | None = None  # Locust workers started elsewhere connect to it
    host: str | None = None
    service_pid: int | None = None  # the --host service's process, to measure it
    redis_url: str | None = None
    database_url: str | None = None
    allow_remote: bool = False
    scenario: ScenarioParams = field(default_factory=ScenarioParams)
    runs_dir: Path = RUNS_DIR
    run_id: str | None = None
    # the live knee ramp (issue 12); None: the fixed step ramp of ``plan`` alone
    knee: KneeSettings | None = field(default_factory=KneeSettings)


@dataclass(frozen=True, slots=True)
class CapacityRun:
    data: RunData
    swarm: SwarmResult
    stop_reason: str


@dataclass(frozen=True, slots=True)
class _Measured:
    """What the ramp produced, before the samples are collected."""

    tracker: StepTracker
    swarm: SwarmResult
    resources: pd.DataFrame
    started_ms: float
    ended_ms: float
    knee: LiveKnee | None = None


OnProgress = Callable[[SwarmProgress, str], None]


def run_capacity(
    cfg: CapacityConfig,
    *,
    on_progress: OnProgress | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> CapacityRun:
    """Run the whole measurement and return the report's inputs (nothing written yet)."""
    phase = on_phase or (lambda _msg: None)
    load_policy(cfg.policy)  # a bad policy fails before anything starts
    run_id = cfg.run_id or new_run_id()
    (cfg.runs_dir / run_id).mkdir(parents=True, exist_ok=True)
    phase("starting Valkey + PostgreSQL")
    # Samples go to a metrics Valkey of the stack's own, apart from the service's Redis;
    # --host with --redis-url records into that Redis (workers on other machines reach it,
    # not a Valkey on this machine's loopback), as `pollcap swarm` does.
    with Stack(redis_url=cfg.redis_url, database_url=cfg.database_url,
               metrics_redis=not (cfg.host and cfg.redis_url)) as stack:
        phase(f"using the service at {cfg.host}" if cfg.host else "starting the reference service")
        log_path = cfg.runs_dir / run_id / "service.log"
        with _service(cfg, stack=stack, log_path=log_path) as (url, service_pids):
            client = redis.Redis.from_url(stack.samples_redis_url)
            service_client = (client if stack.samples_redis_url == stack.redis_url
                              else redis.Redis.from_url(stack.redis_url))
            try:
                phase("ramping users")
                measured = _ramp(cfg, run_id=run_id, url=url, stack=stack, client=client,
                                 service_client=service_client, service_pids=service_pids,
                                 on_progress=on_progress)
                phase("collecting samples")
                samples = {kind: read_samples(client, run_id=run_id, sample_type=kind)
                           for kind in SAMPLE_KINDS}
            finally:
                client.close()
                service_client.close()
    return _assemble(cfg, run_id=run_id, url=url, measured=measured, samples=samples)


def _ramp(
    cfg: CapacityConfig,
    *,
    run_id: str,
    url: str,
    stack: StackInfo,
    client: redis.Redis,
    service_client: redis.Redis,
    service_pids: Callable[[], list[int]],
    on_progress: OnProgress | None,
) -> _Measured:
    """The swarm's step ramp, cut into steps as it goes; stopped early past saturation.

    ``client`` is the samples' Redis (the metrics Valkey), ``service_client`` the
    service's, whose commands are counted."""
    generator: list[int] = []
    # Valkey's and PostgreSQL's CPU too, when the stack launched them (analysis.model.backends)
    backends = {name: (lambda pid=pid: [pid]) for name, pid in
                (("redis", stack.redis_pid), ("postgres", stack.postgres_pid)) if pid}
    sampler = ResourceSampler(groups={"service": service_pids, "generator": lambda: generator,
                                      **backends})
    probe = CountersProbe(
        client=client, run_id=run_id, database_url=None if cfg.host else stack.database_url,
        service_client=service_client,
    )
    tracker = StepTracker(plan=cfg.plan, clock_ms=lambda: time.time() * 1000,
                          slo_p95_ms=cfg.slo_p95_ms, warmup_fraction=cfg.warmup_fraction)
    judge = StepJudge(cfg=cfg, tracker=tracker, probe=probe, client=client, run_id=run_id,
                       resources=sampler.frame)

    def progress(p: SwarmProgress) -> None:
        if judge.observe(users=p.users):
            _interrupt(generator)
        if on_progress:
            on_progress(p, judge.stop_reason or "")

    started_ms = time.time() * 1000
    sampler.start()
    # push transports: the service's own connection and fan-out counters (analysis.model.push)
    push = PushSampler(url=url).start() if transport(cfg) in PUSH_TRANSPORTS else None
    try:
        swarm = _swarm(cfg, run_id=run_id, url=url, stack=stack, progress=progress,
                       on_start=generator.append)
    finally:
        resources = sampler.stop()
        if push is not None:
            resources = with_push_columns(resources, push.stop())
    tracker.finish(counters=probe())
    return _Measured(tracker=tracker, swarm=swarm, resources=resources, started_ms=started_ms,
                     ended_ms=time.time() * 1000, knee=judge.knee)


def transport(cfg: CapacityConfig) -> str:
    """The users' transport: ``--realtime``, else the design's ``REALTIME`` rule."""
    return run_transport(cfg)


def _interrupt(generator: list[int]) -> None:
    """SIGINT to the Locust process group: it stops and still writes its CSVs."""
    if generator:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(generator[0], signal.SIGINT)


def _swarm(
    cfg: CapacityConfig,
    *,
    run_id: str,
    url: str,
    stack: StackInfo,
    progress: Callable[[SwarmProgress], None],
    on_start: Callable[[int], None],
) -> SwarmResult:
    users, duration_s, shape = swarm_shape(cfg)
    return run_swarm(
        host=url,
        redis_url=stack.samples_redis_url,
        users=users,
        spawn_rate=cfg.plan.spawn_rate,
        duration_s=duration_s,
        shape=shape,
        processes=cfg.processes,
        client_policy=cfg.client_policy,
        run_id=run_id,
        runs_dir=cfg.runs_dir,
        cpu_affinity=available_cpus(cfg.generator_cpus),
        progress=progress,
        allow_remote=cfg.allow_remote,
        scenario=cfg.scenario,
        meta={"service_policy": cfg.policy, "cache_mode": cfg.cache_mode},
        on_start=on_start,
        master=cfg.master,
    )


def swarm_shape(cfg: CapacityConfig) -> tuple[int, float, str]:
    """Locust's ``(users, duration_s, shape)``: the live knee shape or the fixed step table."""
    if cfg.knee is None:
        return cfg.plan.max_users, cfg.plan.duration_s, cfg.plan.shape_spec()
    return cfg.knee.max_users, cfg.knee.swarm_s, cfg.knee.shape_spec(cfg.plan)


@contextlib.contextmanager
def _service(
    cfg: CapacityConfig, *, stack: StackInfo, log_path: Path
) -> Iterator[tuple[str, Callable[[], list[int]]]]:
    """The reference service (or ``cfg.host``): its URL and a callable for its PIDs."""
    if cfg.host:
        pid = cfg.service_pid
        yield cfg.host, (lambda: [pid]) if pid else (lambda: [])
        return
    with run_service(
        redis_url=stack.redis_url,
        database_url=stack.database_url,
        workers=cfg.workers,
        policy=cfg.policy,
        cache_mode=cfg.cache_mode,
        cpu_affinity=available_cpus(cfg.service_cpus),
        log_path=log_path,
    ) as handle:
        yield handle.url, lambda: handle.pids


def _assemble(
    cfg: CapacityConfig,
    *,
    run_id: str,
    url: str,
    measured: _Measured,
    samples: dict[str, pd.DataFrame],
) -> CapacityRun:
    """The report's inputs: steps, samples, the service's resources and the run's meta."""
    tracker, swarm = measured.tracker, measured.swarm
    if not tracker.windows:
        raise UserError(f"the swarm completed no step (see {swarm.run_dir}/locust.log)")
    stop_reason = _stop_reason(cfg, measured)
    frame = resources_for_table(measured.resources)
    data = RunData(
        run_id=run_id,
        steps=pd.DataFrame(tracker.rows()),
        samples=samples,
        resources=frame,
        meta=_meta(cfg, url=url, measured=measured, stop_reason=stop_reason),
    )
    return CapacityRun(data=data, swarm=swarm, stop_reason=stop_reason)


def _stop_reason(cfg: CapacityConfig, measured: _Measured) -> str:
    """Why the ramp ended: the knee ramp's decision, the fixed ramp's rule, or its end."""
    if measured.knee is not None:
        return measured.knee.stop_reason or (
            f"the swarm's time cap ({cfg.knee.swarm_s if cfg.knee else 0:.0f} s) ended the ramp")
    return measured.tracker.stop_reason or f"reached the last step ({cfg.plan.max_users} users)"


def _knee_meta(measured: _Measured) -> dict[str, Any]:
    """The knee ramp's record: each step's phase and the figures each decision read."""
    knee = measured.knee
    if knee is None:
        return {"ramp": "fixed"}
    return {"ramp": "knee", "knee_max_users": knee.ramp.rules.max_users,
            "knee_phases": [{"users": u, "phase": p} for u, p in knee.phases().items()],
            "knee_decisions": knee.decisions,
            "knee_recoveries": [{"users": u, "from_ms": int(a * 1000), "to_ms": int(b * 1000)}
                                for u, a, b in knee.ramp.recoveries]}


def _meta(
    cfg: CapacityConfig, *, url: str, measured: _Measured, stop_reason: str
) -> dict[str, Any]:
    """``meta.json`` of the report folder (keys documented in ``analysis.runs.META_KEYS``)."""
    gen_cpu = measured.resources.get("generator_cpu_percent", pd.Series(dtype=float))
    return {
        "slo_p95_ms": cfg.slo_p95_ms,
        "target_users": cfg.target_users,
        "headroom": cfg.headroom,
        "price_per_million_usd": cfg.price_per_million_usd,
        "service_policy": cfg.policy,
        "client_policy": cfg.client_policy,
        "cache_mode": cfg.cache_mode,
        "nominal_interval_ms": run_interval_ms(cfg),
        "cache_ttl_s": Settings().seed_ttl_s if cfg.cache_mode == "seed" else 0,
        "warmup_fraction": cfg.warmup_fraction,
        "started_at_ms": int(measured.started_ms),
        "ended_at_ms": int(measured.ended_ms),
        "host": url,
        "target": cfg.scenario.target or "reference",
        "service_cores": len(available_cpus(cfg.service_cpus) or os.sched_getaffinity(0)),
        "service_workers": cfg.workers,
        "generator_processes": cfg.processes,
        # the users' send rate, for the push price tables (analysis.model.findings)
        "sender_share": cfg.scenario.sender_share,
        "send_rate_per_min": cfg.scenario.send_rate_per_min,
        "seed": cfg.scenario.seed,  # the users' draws (loadtests.clients.scenario.tab_rng)
        # the channel model, for the expected audience per message (analysis.model.audience)
        "channels": cfg.scenario.channels,
        "channel_skew": cfg.scenario.channel_skew,
        "realtime": transport(cfg),
        "reconnect_every_s": cfg.scenario.reconnect_every_s,
        "locust_workers_elsewhere": cfg.master.expect_workers if cfg.master else 0,
        "generator_steps": measured.tracker.process_rows(),
        **capacity_setup(cfg).meta(),
        "generator_cpu_peak_percent": float(gen_cpu.max()) if len(gen_cpu) else None,
        "stop_reason": stop_reason,
        "plan": swarm_shape(cfg)[2],
        **_knee_meta(measured),
        "swarm_run_dir": str(measured.swarm.run_dir),
        "swarm_summary": measured.swarm.summary,
    }
