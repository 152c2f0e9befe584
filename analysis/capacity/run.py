"""``pollcap capacity``'s orchestration: stack, service, step-ramp swarm, collection.

The steps are cut from what the swarm actually ran (the live user count the Locust
users publish), not from the planned table, so a slow ramp-up never leaks into a
step's window. After each completed step the stopping rule of :mod:`analysis.capacity.ramp`
is asked, and a saturated run is stopped early (SIGINT: Locust still writes its CSVs).

Counters snapshotted at every step boundary give the per-step counts the report
needs: requests and failures (the users' counters), Redis commands (the server's
``total_commands_processed``, which includes pollcap's own sample writes) and
PostgreSQL transactions (``pg_stat_database``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis

from analysis.capacity.ramp import RampPlan, saturation_reason
from analysis.capacity.resources import ResourceSampler
from analysis.collect import read_samples
from analysis.runs import RunData
from loadtests.recording.recorder import new_run_id
from loadtests.swarm.run import ScenarioParams, SwarmProgress, SwarmResult, run_swarm
from target_service.embedded.stack import Stack
from target_service.errors import UserError
from target_service.policy import load_policy
from target_service.serve import run_service

WARMUP_FRACTION = 0.25


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    plan: RampPlan
    slo_p95_ms: float = 3000.0
    target_users: int | None = None
    headroom: float = 0.7
    price_per_million_usd: float = 0.20
    policy: str = "fixed-2s"
    client_policy: str = "fixed-2s"
    cache_mode: str = "fresh"
    workers: int = 1
    service_cpus: tuple[int, ...] | None = (0,)
    generator_cpus: tuple[int, ...] | None = (1,)
    processes: int = 1
    host: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    allow_remote: bool = False
    scenario: ScenarioParams = field(default_factory=ScenarioParams)
    runs_dir: Path = Path("runs")
    run_id: str | None = None


@dataclass
class Snapshot:
    t_ms: float
    users: int
    counters: dict[str, float]


@dataclass
class StepTracker:
    """Cuts the run into steps by the live user count and applies the stopping rule."""

    plan: RampPlan
    slo_p95_ms: float
    probe: Callable[[], dict[str, float]]
    read_step: Callable[[float, float], tuple[float, float, float | None]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    current: Snapshot | None = None
    stop_reason: str | None = None
    _history: dict[str, list[Any]] = field(
        default_factory=lambda: {"rps": [], "error_rate": [], "p95": []}
    )

    def observe(self, *, users: int) -> bool:
        """Feed the live user count; returns True when the run should stop now."""
        targets = set(self.plan.users)
        if self.current is not None and users != self.current.users:
            self._close(time.time() * 1000)
            if self.stop_reason:
                return True
        if self.current is None and users in targets:
            self.current = Snapshot(time.time() * 1000, users, self.probe())
        return False

    def finish(self) -> None:
        if self.current is not None:
            self._close(time.time() * 1000, check=False)

    def _close(self, end_ms: float, *, check: bool = True) -> None:
        assert self.current is not None
        start, counters = self.current, self.probe()
        self.current = None
        if end_ms - start.t_ms < 2000:
            return  # a transient count while spawning, not a step
        row: dict[str, Any] = {
            "users": start.users,
            "start_ms": int(start.t_ms),
            "end_ms": int(end_ms),
        }
        row.update({k: counters[k] - start.counters.get(k, 0.0) for k in counters})
        self.steps.append(row)
        if not check:
            return
        lo_ms = start.t_ms + WARMUP_FRACTION * (end_ms - start.t_ms)
        rps, error_rate, p95 = self.read_step(lo_ms, end_ms)
        for key, value in (("rps", rps), ("error_rate", error_rate), ("p95", p95)):
            self._history[key].append(value)
        self.stop_reason = saturation_reason(
            rps=self._history["rps"],
            error_rate=self._history["error_rate"],
            delivery_p95_ms=self._history["p95"],
            slo_p95_ms=self.slo_p95_ms,
        )


def _counters_probe(
    client: redis.Redis, *, run_id: str, database_url: str | None,
    service_client: redis.Redis | None = None,
) -> Callable[[], dict[str, float]]:
    """Counters from the samples' Redis; Redis commands from the service's (the same server
    unless the stack has a metrics Valkey, which keeps the recorder out of the count)."""
    probes = [0]
    server = service_client or client

    def probe() -> dict[str, float]:
        raw: dict[bytes, bytes] = client.hgetall(f"run:{run_id}:counters")  # type: ignore[assignment]
        counts = {k.decode(): float(v) for k, v in raw.items()}
        # Redis commands of the service alone: the server's total less the load
        # generator's recorder and this probe (HGETALL + INFO; the count lags by <= 1 s).
        probes[0] += 2 if server is client else 1
        total = float(server.info("stats").get("total_commands_processed", 0))
        recorder = counts.get("recorder_commands", 0.0) if server is client else 0.0
        out = {
            "requests": counts.get("requests", counts.get("polls", 0.0)),
            "failures": counts.get("errors", 0.0),
            "lost": counts.get("lost", 0.0),
            "duplicated": counts.get("duplicated", 0.0),
            "redis_ops": total - recorder - probes[0],
        }
        if database_url:
            out["pg_queries"] = float(asyncio.run(_pg_transactions(database_url)))
        return out

    return probe


async def _pg_transactions(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


def _step_reader(
    client: redis.Redis, *, run_id: str, probe_rows: list[dict[str, Any]]
) -> Callable[[float, float], tuple[float, float, float | None]]:
    """Live per-step figures for the stopping rule: poll rps, error rate, p95 delivery."""

    def read(lo_ms: float, end_ms: float) -> tuple[float, float, float | None]:
        polls = read_samples(
            client, run_id=run_id, sample_type="poll", start_ms=lo_ms, end_ms=end_ms
        )
        messages = read_samples(
            client, run_id=run_id, sample_type="message", start_ms=lo_ms, end_ms=end_ms
        )
        span_s = max((end_ms - lo_ms) / 1000.0, 1e-3)
        row = probe_rows[-1] if probe_rows else {}
        requests = max(float(row.get("requests", 0.0)), 1.0)
        error_rate = float(row.get("failures", 0.0)) / requests
        p95 = float(np.percentile(messages["latency_ms"], 95)) if len(messages) else None
        return len(polls) / span_s, error_rate, p95

    return read


@contextlib.contextmanager
def _service(
    cfg: CapacityConfig, *, redis_url: str, database_url: str, log_path: Path
) -> Iterator[tuple[str, Callable[[], list[int]]]]:
    if cfg.host:
        yield cfg.host, lambda: []
        return
    with run_service(
        redis_url=redis_url,
        database_url=database_url,
        workers=cfg.workers,
        policy=cfg.policy,
        cache_mode=cfg.cache_mode,
        cpu_affinity=_usable(cfg.service_cpus),
        log_path=log_path,
    ) as handle:
        yield handle.url, lambda: handle.pids


def _usable(cpus: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The requested cores that exist here (a 1-core machine runs everything on core 0)."""
    if not cpus:
        return None
    have = os.sched_getaffinity(0)
    chosen = tuple(c for c in cpus if c in have)
    return chosen or None


@dataclass(frozen=True, slots=True)
class CapacityRun:
    data: RunData
    swarm: SwarmResult
    stop_reason: str


def run_capacity(
    cfg: CapacityConfig,
    *,
    on_progress: Callable[[SwarmProgress, str], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> CapacityRun:
    """Run the whole measurement and return the report's inputs (nothing written yet)."""
    phase = on_phase or (lambda _msg: None)
    policy = load_policy(cfg.policy)
    run_id = cfg.run_id or new_run_id()
    run_dir = cfg.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    phase("starting Valkey + PostgreSQL")
    with Stack(
        redis_url=cfg.redis_url, database_url=cfg.database_url, metrics_redis=True
    ) as stack:
        phase("starting the reference service")
        with _service(
            cfg,
            redis_url=stack.redis_url,
            database_url=stack.database_url,
            log_path=run_dir / "service.log",
        ) as (url, service_pids):
            client = redis.Redis.from_url(stack.samples_redis_url)  # the metrics Valkey
            service_client = redis.Redis.from_url(stack.redis_url)
            generator: list[int] = []
            sampler = ResourceSampler(
                groups={"service": service_pids, "generator": lambda: generator}
            ).start()
            probe = _counters_probe(
                client, run_id=run_id, database_url=None if cfg.host else stack.database_url,
                service_client=service_client,
            )
            tracker = StepTracker(
                plan=cfg.plan,
                slo_p95_ms=cfg.slo_p95_ms,
                probe=probe,
                read_step=lambda lo, hi: (0.0, 0.0, None),
            )
            tracker.read_step = _step_reader(client, run_id=run_id, probe_rows=tracker.steps)
            started_ms = time.time() * 1000

            def progress(p: SwarmProgress) -> None:
                if tracker.observe(users=p.users) and generator:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(generator[0], signal.SIGINT)
                if on_progress:
                    on_progress(p, tracker.stop_reason or "")

            phase("ramping users")
            try:
                swarm = run_swarm(
                    host=url,
                    redis_url=stack.samples_redis_url,
                    users=cfg.plan.max_users,
                    spawn_rate=cfg.plan.spawn_rate,
                    duration_s=cfg.plan.duration_s,
                    shape=cfg.plan.shape_spec(),
                    processes=cfg.processes,
                    client_policy=cfg.client_policy,
                    run_id=run_id,
                    runs_dir=cfg.runs_dir,
                    cpu_affinity=_usable(cfg.generator_cpus),
                    progress=progress,
                    allow_remote=cfg.allow_remote,
                    scenario=cfg.scenario,
                    meta={"service_policy": cfg.policy, "cache_mode": cfg.cache_mode},
                    on_start=generator.append,
                )
            finally:
                tracker.finish()
                resources = sampler.stop()
            phase("collecting samples")
            samples = {
                kind: read_samples(client, run_id=run_id, sample_type=kind)
                for kind in ("poll", "message", "notification")
            }
            client.close()
            service_client.close()
    if not tracker.steps:
        raise UserError(f"the swarm completed no step (see {swarm.run_dir}/locust.log)")
    stop_reason = tracker.stop_reason or f"reached the last step ({cfg.plan.max_users} users)"
    gen_cpu = resources.get("generator_cpu_percent", pd.Series(dtype=float))
    meta = {
        "slo_p95_ms": cfg.slo_p95_ms,
        "target_users": cfg.target_users,
        "headroom": cfg.headroom,
        "price_per_million_usd": cfg.price_per_million_usd,
        "policy": cfg.policy,
        "client_policy": cfg.client_policy,
        "cache_mode": cfg.cache_mode,
        "nominal_interval_ms": _nominal_interval_ms(cfg.client_policy, policy.name),
        "cache_ttl_s": 5 if cfg.cache_mode == "seed" else 0,
        "warmup_fraction": WARMUP_FRACTION,
        "started_at_ms": int(started_ms),
        "ended_at_ms": int(time.time() * 1000),
        "host": url,
        "service_cores": len(_usable(cfg.service_cpus) or os.sched_getaffinity(0)),
        "service_workers": cfg.workers,
        "generator_processes": cfg.processes,
        "generator_cpu_peak_percent": float(gen_cpu.max()) if len(gen_cpu) else None,
        "stop_reason": stop_reason,
        "plan": cfg.plan.shape_spec(),
        "swarm_run_dir": str(swarm.run_dir),
        "swarm_summary": swarm.summary,
    }
    frame = resources.rename(
        columns={"service_cpu_percent": "cpu_percent", "service_rss_bytes": "rss_bytes"}
    )
    data = RunData(
        run_id=run_id,
        steps=pd.DataFrame(tracker.steps),
        samples=samples,
        resources=frame,
        meta=meta,
    )
    return CapacityRun(data=data, swarm=swarm, stop_reason=stop_reason)


def _nominal_interval_ms(client_policy: str, service_policy: str) -> float | None:
    """The fixed interval users poll at, when there is one (for the delivery floor)."""
    name = service_policy if client_policy == "server" else client_policy
    policy = load_policy(name)
    if not policy.thresholds and not policy.rate_thresholds and policy.load_factor == 1.0:
        return float(policy.default_ms)
    return None
