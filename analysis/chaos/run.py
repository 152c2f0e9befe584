"""``run_chaos``: stack + service + a bounded swarm, faults on schedule, then the verdict.

1. **Stack up** with a metrics Valkey of its own: faults hit the service's Valkey and
   PostgreSQL, never the measurement.
2. **Service up** with >= 2 uvicorn workers (a worker can be killed).
3. **Swarm** in a thread (``run_swarm`` blocks); its test clock is the recorders'
   ``test_started_at_ms``, and every fault is placed on that clock.
4. **Faults** injected and healed on schedule by :class:`~analysis.chaos.inject.Injector`;
   whatever is still broken is healed on the way out.
5. **Read back** after the swarm: sends and samples from the metrics Redis, every
   channel in full from PostgreSQL; **evaluate** and **report**.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from analysis.chaos.evaluate import Limits, evaluate, timeline_of
from analysis.chaos.inject import FaultWindow, Injector
from analysis.chaos.readback import read_run, read_store, run_channels
from analysis.chaos.report import write_report
from analysis.chaos.schedule import DEFAULT_TAIL_S, Fault, check_schedule, swarm_duration_s
from loadtests.recording.keys import TEST_STARTED_FIELD, new_run_id, run_meta_key
from loadtests.swarm.run import ScenarioParams, SwarmResult, run_swarm
from target_service.embedded.stack import Stack
from target_service.errors import UserError
from target_service.serve import run_service

START_TIMEOUT_S = 60.0  # Locust imports and spawns before its test clock starts
SERVICE_READY_TIMEOUT_S = 90.0  # >= 2 workers importing on a busy 2-core machine


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    faults: Sequence[Fault]
    users: int = 40
    spawn_rate: float = 20.0
    workers: int = 2
    cache: str = "fresh"
    policy: str = "fixed-2s"
    client_policy: str = "fixed-2s"
    realtime: str = "polling"  # the tabs' transport (loadtests.clients.providers.factory)
    scenario: ScenarioParams = field(default_factory=lambda: ScenarioParams(
        channels=4, sender_share=0.25, send_rate_per_min=12.0, notification_rate_per_s=1.0))
    tail_s: float = DEFAULT_TAIL_S
    limits: Limits = field(default_factory=Limits)
    redis_url: str | None = None
    database_url: str | None = None
    metrics_redis_url: str | None = None
    service_env: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    runs_dir: Path = Path("runs")
    reports_dir: Path = Path("reports")
    command: str = "pollcap chaos"


@dataclass(frozen=True, slots=True)
class ChaosResult:
    run_id: str
    result: dict[str, Any]
    json_path: Path
    html_path: Path

    @property
    def passed(self) -> bool:
        return bool(self.result["passed"])


Hook = Callable[[str, dict[str, Any]], None]  # (event, details): progress and test hooks


def run_chaos(cfg: ChaosConfig, *, on_event: Hook | None = None) -> ChaosResult:
    faults = check_schedule(cfg.faults)
    if cfg.workers < 2:
        raise UserError("--workers must be at least 2 (service:kill-worker kills one)")
    run_id = cfg.run_id or new_run_id()
    emit = on_event or (lambda event, details: None)
    stack = Stack(redis_url=cfg.redis_url, database_url=cfg.database_url, metrics_redis=True,
                  metrics_redis_url=cfg.metrics_redis_url)
    info = stack.start()
    try:
        emit("stack", {"redis": info.redis_url, "metrics": info.samples_redis_url,
                       "database": info.database_url})
        run_dir = Path(cfg.runs_dir).resolve() / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        with run_service(
            redis_url=info.redis_url, database_url=info.database_url, workers=cfg.workers,
            policy=cfg.policy, cache_mode=cfg.cache, env=cfg.service_env,
            log_path=run_dir / "service.log", ready_timeout_s=SERVICE_READY_TIMEOUT_S,
        ) as service:
            injector = Injector(stack=stack, service=service, workers=cfg.workers)
            for fault in faults:
                injector.check(fault)
            emit("service", {"url": service.url, "workers": service.worker_pids})
            swarm, windows, t0_ms, end_ms = _swarm_with_faults(
                cfg, faults=faults, run_id=run_id, host=service.url,
                metrics_url=info.samples_redis_url, injector=injector, emit=emit,
            )
            emit("readback", {"run_id": run_id})
            samples = read_run(info.samples_redis_url, run_id=run_id)
            stored = read_store(info.database_url, channels=run_channels(samples))
    finally:
        stack.stop()
    result = evaluate(samples=samples, stored=stored, windows=windows, t0_ms=t0_ms,
                      end_ms=end_ms, limits=cfg.limits)
    frame = timeline_of(samples, t0_ms=t0_ms)
    meta = {"users": cfg.users, "workers": cfg.workers, "cache": cfg.cache,
            "policy": cfg.policy, "client_policy": cfg.client_policy, "realtime": cfg.realtime,
            "faults": [f.label for f in faults], "swarm_run_dir": str(swarm.run_dir),
            "command": cfg.command}
    json_path, html_path = write_report(out_dir=Path(cfg.reports_dir) / run_id, run_id=run_id,
                                        result=result, frame=frame, meta=meta)
    return ChaosResult(run_id=run_id, result=result, json_path=json_path, html_path=html_path)


def _swarm_with_faults(
    cfg: ChaosConfig, *, faults: list[Fault], run_id: str, host: str, metrics_url: str,
    injector: Injector, emit: Hook,
) -> tuple[SwarmResult, list[FaultWindow], float, float]:
    box: dict[str, Any] = {}

    def swarm() -> None:
        try:
            box["result"] = run_swarm(
                host=host, redis_url=metrics_url, users=cfg.users, spawn_rate=cfg.spawn_rate,
                duration_s=swarm_duration_s(faults, tail_s=cfg.tail_s),
                client_policy=cfg.client_policy, run_id=run_id, runs_dir=cfg.runs_dir,
                scenario=replace(cfg.scenario, realtime=cfg.realtime),
                meta={"chaos": [f.label for f in faults]},
                on_start=lambda pid: box.__setitem__("pid", pid),
            )
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=swarm, name="chaos-swarm", daemon=True)
    thread.start()
    windows: list[FaultWindow] = []
    try:
        t0_ms = _test_start_ms(metrics_url, run_id=run_id, thread=thread)
        emit("swarm", {"t0_ms": t0_ms})
        for fault in faults:
            if not _sleep_until(t0_ms + fault.at_s * 1000, thread):
                break
            window = injector.inject(fault)
            windows.append(window)
            emit("inject", {"fault": fault.label, "detail": window.detail})
            _sleep_until(t0_ms + fault.heal_s * 1000, thread)
            injector.heal(window)
            emit("heal", {"fault": fault.label, "detail": window.detail})
    except BaseException:
        _stop_swarm(box.get("pid"))  # Ctrl-C or a failed fault: do not wait out the plan
        raise
    finally:
        injector.heal_all()
        thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"], windows, t0_ms, time.time() * 1000


def _stop_swarm(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGINT)  # Locust's group: it writes its CSVs and exits
    except ProcessLookupError:
        pass


def _test_start_ms(metrics_url: str, *, run_id: str, thread: threading.Thread) -> float:
    client = redis.Redis.from_url(metrics_url)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline and thread.is_alive():
            raw: Any = client.hget(run_meta_key(run_id=run_id), TEST_STARTED_FIELD)
            if raw is not None:
                return float(raw)
            time.sleep(0.1)
    finally:
        client.close()
    raise UserError(f"the swarm did not start within {START_TIMEOUT_S:.0f} s; see runs/{run_id}")


def _sleep_until(t_ms: float, thread: threading.Thread) -> bool:
    """Sleep until wall-clock ``t_ms``; False when the swarm ended first."""
    while (left_s := t_ms / 1000 - time.time()) > 0:
        if not thread.is_alive():
            return False
        time.sleep(min(left_s, 0.05))
    return thread.is_alive()
