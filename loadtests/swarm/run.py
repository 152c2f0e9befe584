"""``run_swarm``: Locust headless as a subprocess, one run folder, one summary.

The swarm runs in its own process (or ``--processes P`` of them) because Locust
monkey-patches everything it touches; the caller (CLI, capacity runner, tests)
stays a normal Python process. Everything a run produced lands in
``runs/<run-id>/``: ``meta.json``, Locust's CSVs (``--csv`` with full history),
``counters.json``, ``summary.json`` and Locust's log.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from loadtests.clients.options import ScenarioParams
from loadtests.clients.providers.factory import UnknownTransport, choose_transport
from loadtests.recording.keys import TEST_STARTED_FIELD, new_run_id, run_meta_key
from loadtests.recording.samples import read_counters
from loadtests.shapes import Stage, parse_shape, total_duration_s
from loadtests.swarm.locust_process import (
    MasterSpec,
    SwarmProgress,
    grace_s,
    locust_command,
    run_locust,
)
from loadtests.swarm.safety import check_host, check_master_bind
from loadtests.swarm.summary import summarize
from loadtests.targets.checks import check_target, with_target_path
from target_service.embedded.ports import free_port
from target_service.errors import UserError
from target_service.policy import PolicyError, load_policy

# ScenarioParams and SwarmProgress are re-exported: the analysis imports them from here
__all__ = ["MasterSpec", "ScenarioParams", "SwarmProgress", "SwarmResult", "run_swarm"]


@dataclass(frozen=True, slots=True)
class SwarmResult:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    returncode: int
    stages: list[Stage] = field(default_factory=list)
    pid: int = 0  # the Locust (master) process, for outside CPU measurement


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    """What one swarm will run: checked parameters, the stage table, where it goes."""

    host: str
    redis_url: str
    users: int
    spawn_rate: float
    shape: str
    processes: int
    client_policy: str
    run_id: str
    run_dir: Path
    stages: list[Stage]
    scenario: ScenarioParams
    master: MasterSpec | None = None  # workers started elsewhere connect to this master

    @property
    def planned_s(self) -> float:
        return total_duration_s(self.stages)


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
    check_host(host, allow_remote=allow_remote)
    _check_params(
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        processes=processes,
        client_policy=client_policy,
        master=master,
    )
    scenario = with_target_path(scenario or ScenarioParams())
    check_scenario(scenario)
    if master is not None:
        check_master_bind(master.bind_host, allow_remote=allow_remote)
    run_id = run_id or new_run_id()
    plan = SwarmPlan(
        host=host,
        redis_url=redis_url,
        users=users,
        spawn_rate=spawn_rate,
        shape=shape,
        processes=processes,
        client_policy=client_policy,
        run_id=run_id,
        run_dir=Path(runs_dir).resolve() / run_id,  # Locust runs with the project as its cwd
        stages=parse_shape(shape, users=users, spawn_rate=spawn_rate, duration_s=duration_s),
        scenario=scenario,
        master=master,
    )
    client = _connect(redis_url)
    try:
        meta_doc = _open_run(client, plan, extra_meta=meta or {})
        proc, returncode = _play(
            client, plan, cpu_affinity=cpu_affinity, progress=progress, on_start=on_start
        )
        summary = _close_run(client, plan, meta_doc=meta_doc, returncode=returncode)
    finally:
        client.close()
    return SwarmResult(
        run_id=run_id,
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


def _open_run(
    client: redis.Redis, plan: SwarmPlan, *, extra_meta: dict[str, Any]
) -> dict[str, Any]:
    """Create the run folder and write the run's meta (folder and Redis) before Locust starts."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    meta_doc: dict[str, Any] = {
        "run_id": plan.run_id,
        "host": plan.host,
        "users": plan.users,
        "spawn_rate": plan.spawn_rate,
        "duration_s": plan.planned_s,
        "shape": plan.shape,
        "processes": plan.processes,
        "master": None if plan.master is None else {
            "expect_workers": plan.master.expect_workers, "bind_host": plan.master.bind_host,
            "bind_port": plan.master.bind_port},
        "client_policy": plan.client_policy,
        "realtime": _transport(plan.scenario),
        "policy": _policy_doc(plan.client_policy),
        "scenario": plan.scenario.public_dict(),
        "stages": [s.to_dict() for s in plan.stages],
        "started_at_ms": int(time.time() * 1000),
        **extra_meta,
    }
    client.hdel(run_meta_key(run_id=plan.run_id), TEST_STARTED_FIELD)  # a reused id starts afresh
    _write_meta(client, plan.run_dir, meta_doc)
    return meta_doc


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


def _close_run(
    client: redis.Redis, plan: SwarmPlan, *, meta_doc: dict[str, Any], returncode: int
) -> dict[str, Any]:
    """Complete the meta, save counters and the summary in the run folder; return the summary."""
    meta_doc.update(ended_at_ms=int(time.time() * 1000), returncode=returncode)
    meta_doc.update(_stage_windows(client, run_id=plan.run_id, stages=plan.stages))
    _write_meta(client, plan.run_dir, meta_doc)
    counters = read_counters(client, run_id=plan.run_id)
    (plan.run_dir / "counters.json").write_text(json.dumps(counters, indent=2) + "\n")
    summary = summarize(
        client, run_id=plan.run_id, run_dir=plan.run_dir, meta=meta_doc, counters=counters
    )
    (plan.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _stage_windows(client: redis.Redis, *, run_id: str, stages: list[Stage]) -> dict[str, Any]:
    """Planned stages on the wall clock, from when Locust's test actually started.

    ``started_at_ms`` is when the subprocess was launched; Locust imports for a few
    seconds before its shape clock starts, so steps are placed from the
    ``test_started_at_ms`` the recorders stamp (absent when nothing was recorded).
    """
    raw: Any = client.hget(run_meta_key(run_id=run_id), TEST_STARTED_FIELD)
    if raw is None:
        return {}
    start_ms = int(json.loads(raw))
    windows, begin_s = [], 0.0
    for stage in stages:
        windows.append(
            {
                "users": stage.users,
                "start_ms": int(start_ms + begin_s * 1000),
                "end_ms": int(start_ms + stage.end_s * 1000),
            }
        )
        begin_s = stage.end_s
    return {"test_started_at_ms": start_ms, "stage_windows": windows}


def _check_params(
    *, users: int, spawn_rate: float, duration_s: float, processes: int, client_policy: str,
    master: MasterSpec | None = None,
) -> None:
    if users < 1:
        raise UserError(f"--users must be at least 1, got {users}")
    if spawn_rate <= 0:
        raise UserError(f"--spawn-rate must be positive, got {spawn_rate}")
    if not 0 < duration_s <= 24 * 3600:
        raise UserError(f"--duration must be within 1 s..24 h, got {duration_s} s")
    if not 1 <= processes <= (os.cpu_count() or 1) * 4:
        raise UserError(f"--processes must be within 1..{(os.cpu_count() or 1) * 4}")
    if master is not None and processes > 1:
        raise UserError("--master and --processes exclude each other: the workers of a "
                        "master are started elsewhere (locust --worker [--processes N])")
    if master is not None and not 1 <= master.expect_workers <= 1000:
        raise UserError(f"--expect-workers must be within 1..1000, got {master.expect_workers}")
    _policy_doc(client_policy)


def _transport(scenario: ScenarioParams) -> str:
    """The transport the Locust subprocess will pick (it inherits this environment)."""
    return choose_transport(option=scenario.realtime, environ=os.environ)


def check_scenario(scenario: ScenarioParams) -> None:
    """``--realtime`` names a transport; ``--reconnect-every`` is a sane mean; ``--target``
    is a good description that the chosen transport can follow."""
    try:
        transport = choose_transport(option=scenario.realtime, environ={})
    except UnknownTransport as exc:
        raise UserError(str(exc)) from None
    check_target(scenario.target, transport=transport)
    if not 0 <= scenario.reconnect_every_s <= 24 * 3600:
        raise UserError(
            f"--reconnect-every must be within 0s..24h, got {scenario.reconnect_every_s} s"
        )


def _policy_doc(client_policy: str) -> dict[str, Any] | str:
    if client_policy == "server":
        return "server"
    try:
        return load_policy(client_policy).to_dict()
    except PolicyError as exc:
        raise UserError(f"--client-policy: {exc} (or 'server')") from None


def _write_meta(client: redis.Redis, run_dir: Path, meta_doc: dict[str, Any]) -> None:
    (run_dir / "meta.json").write_text(json.dumps(meta_doc, indent=2, default=str) + "\n")
    client.hset(
        run_meta_key(run_id=meta_doc["run_id"]),
        mapping={k: json.dumps(v, default=str) for k, v in meta_doc.items()},
    )
