"""``run_swarm``: Locust headless as a subprocess, one run folder, one summary.

The swarm runs in its own process (or ``--processes P`` of them) because Locust
monkey-patches everything it touches; the caller (CLI, capacity runner, tests)
stays a normal Python process. Everything a run produced lands in
``runs/<run-id>/``: ``meta.json``, Locust's CSVs (``--csv`` with full history),
``counters.json``, ``summary.json`` and Locust's log.

The parts: :mod:`loadtests.swarm.plan` checks the parameters and lays out the run,
:mod:`loadtests.swarm.run_folder` opens and closes the folder and its meta,
:mod:`loadtests.swarm.locust_process` runs Locust; this module strings them together.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from loadtests.clients.options import ScenarioParams
from loadtests.shapes import Stage
from loadtests.swarm.locust_process import (
    MasterSpec,
    SwarmProgress,
    grace_s,
    locust_command,
    run_locust,
)
from loadtests.swarm.plan import SwarmPlan, check_scenario, plan_swarm
from loadtests.swarm.run_folder import close_run, open_run
from target_service.embedded.ports import free_port
from target_service.errors import UserError

# ScenarioParams, SwarmProgress and check_scenario are re-exported: callers import them here
__all__ = ["MasterSpec", "ScenarioParams", "SwarmProgress", "SwarmResult", "check_scenario",
           "run_swarm"]


@dataclass(frozen=True, slots=True)
class SwarmResult:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    returncode: int
    stages: list[Stage] = field(default_factory=list)
    pid: int = 0  # the Locust (master) process, for outside CPU measurement


def run_swarm(
    *,
    host: str,
    redis_url: str,
    users: int,
    spawn_rate: float,
    duration_s: float,
    shape: str = "constant",
    processes: int = 1,
    client_policy: str = "fixed-2s",
    run_id: str | None = None,
    runs_dir: Path = Path("runs"),
    cpu_affinity: Sequence[int] | None = None,
    progress: Callable[[SwarmProgress], None] | None = None,
    allow_remote: bool = False,
    scenario: ScenarioParams | None = None,
    meta: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    master: MasterSpec | None = None,
) -> SwarmResult:
    """Run one bounded swarm against ``host`` and summarise it (see the module docstring).

    ``meta`` is merged into ``meta.json`` (the capacity runner records its service
    settings there); ``on_start`` gets the Locust PID as soon as it runs. ``master``
    runs Locust as a master whose workers are started elsewhere (they record into
    the same ``redis_url``); ``processes`` forks a master and workers here.
    Raises :class:`UserError` for bad parameters and a non-loopback host without
    ``allow_remote``.
    """
    plan = plan_swarm(
        host=host, redis_url=redis_url, users=users, spawn_rate=spawn_rate,
        duration_s=duration_s, shape=shape, processes=processes, client_policy=client_policy,
        run_id=run_id, runs_dir=runs_dir, allow_remote=allow_remote, scenario=scenario,
        master=master,
    )
    client = _connect(redis_url)
    try:
        meta_doc = open_run(client, plan, extra_meta=meta or {})
        proc, returncode = _play(
            client, plan, cpu_affinity=cpu_affinity, progress=progress, on_start=on_start
        )
        summary = close_run(client, plan, meta_doc=meta_doc, returncode=returncode)
    finally:
        client.close()
    return SwarmResult(
        run_id=plan.run_id,
        run_dir=plan.run_dir,
        summary=summary,
        returncode=returncode,
        stages=plan.stages,
        pid=proc.pid,
    )


def _connect(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise UserError(f"cannot reach Redis at {redis_url}: {exc}") from None
    return client


def _play(
    client: redis.Redis,
    plan: SwarmPlan,
    *,
    cpu_affinity: Sequence[int] | None,
    progress: Callable[[SwarmProgress], None] | None,
    on_start: Callable[[int], None] | None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Run Locust headless for the plan; returns the process and its exit code."""
    command = locust_command(
        host=plan.host,
        redis_url=plan.redis_url,
        users=plan.users,
        spawn_rate=plan.spawn_rate,
        planned_s=plan.planned_s,
        shape=plan.shape,
        processes=plan.processes,
        client_policy=plan.client_policy,
        run_id=plan.run_id,
        run_dir=plan.run_dir,
        scenario_args=plan.scenario.to_args(),
        master=plan.master,
        local_master_port=free_port() if plan.processes > 1 else 5557,
    )
    (plan.run_dir / "command.txt").write_text(" ".join(command) + "\n")
    return run_locust(
        command,
        run_dir=plan.run_dir,
        cpu_affinity=cpu_affinity,
        planned_s=plan.planned_s,
        client=client,
        run_id=plan.run_id,
        progress=progress,
        on_start=on_start,
        extra_env=plan.scenario.to_env(),
        grace_after_s=grace_s(plan.users) + (plan.master.workers_wait_s if plan.master else 0),
    )
