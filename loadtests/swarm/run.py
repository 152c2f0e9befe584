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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from loadtests.clients.providers.factory import UnknownTransport, choose_transport
from loadtests.recording.recorder import meta_key, new_run_id
from loadtests.recording.samples import read_counters
from loadtests.shapes import Stage, parse_shape, total_duration_s
from loadtests.swarm.locust_process import SwarmProgress, locust_command, run_locust
from loadtests.swarm.safety import check_host
from loadtests.swarm.summary import summarize
from target_service.errors import UserError
from target_service.policy import PolicyError, load_policy

__all__ = ["ScenarioParams", "SwarmProgress", "SwarmResult", "run_swarm"]

CLIENT_POLICIES = ("fixed-2s", "seed-dynamic", "seed-optimal", "server")


@dataclass(frozen=True, slots=True)
class SwarmResult:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    returncode: int
    stages: list[Stage] = field(default_factory=list)
    pid: int = 0  # the Locust (master) process, for outside CPU measurement


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    """Scenario options passed through to the locustfile (see ``loadtests.clients.scenario``)."""

    channels: int = 10
    channel_skew: float = 1.0
    sender_share: float = 0.1
    send_rate_per_min: float = 6.0
    notification_rate_per_s: float = 1.0
    admin_token: str | None = None
    hidden_share: float = 0.0
    hidden_mean_s: float = 30.0
    offline_share: float = 0.0
    offline_mean_s: float = 15.0
    jitter: float = 0.05
    page_limit: int = 50
    record: bool = True
    delivery_rows: bool = True
    realtime: str = ""  # "" = the locustfile's REALTIME rule; else a transport name
    reconnect_every_s: float = 0.0

    def to_args(self) -> list[str]:
        args = [
            f"--channels={self.channels}",
            f"--channel-skew={self.channel_skew}",
            f"--sender-share={self.sender_share}",
            f"--send-rate-per-min={self.send_rate_per_min}",
            f"--notification-rate-per-s={self.notification_rate_per_s}",
            f"--hidden-share={self.hidden_share}",
            f"--hidden-mean-s={self.hidden_mean_s}",
            f"--offline-share={self.offline_share}",
            f"--offline-mean-s={self.offline_mean_s}",
            f"--jitter={self.jitter}",
            f"--page-limit={self.page_limit}",
            f"--reconnect-every-s={self.reconnect_every_s}",
        ]
        if self.realtime:
            args.append(f"--realtime={self.realtime}")
        if self.admin_token:
            args.append(f"--admin-token={self.admin_token}")
        if not self.record:
            args.append("--no-record")
        if not self.delivery_rows:
            args.append("--no-delivery-rows")
        return args


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
) -> SwarmResult:
    """Run one bounded swarm against ``host`` and summarise it (see the module docstring).

    ``meta`` is merged into ``meta.json`` (the capacity runner records its service
    settings there); ``on_start`` gets the Locust PID as soon as it runs.
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
    )
    stages = parse_shape(shape, users=users, spawn_rate=spawn_rate, duration_s=duration_s)
    planned_s = total_duration_s(stages)
    scenario = scenario or ScenarioParams()
    check_scenario(scenario)
    run_id = run_id or new_run_id()
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UserError(f"cannot reach Redis at {redis_url}: {exc}") from None
    run_dir = Path(runs_dir).resolve() / run_id  # Locust runs with the project as its cwd
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_doc: dict[str, Any] = {
        "run_id": run_id,
        "host": host,
        "users": users,
        "spawn_rate": spawn_rate,
        "duration_s": planned_s,
        "shape": shape,
        "processes": processes,
        "client_policy": client_policy,
        "realtime": _transport(scenario),
        "policy": _policy_doc(client_policy),
        "scenario": {k: v for k, v in _fields(scenario).items() if k != "admin_token"},
        "stages": [s.to_dict() for s in stages],
        "started_at_ms": int(time.time() * 1000),
        **(meta or {}),
    }
    client.hdel(meta_key(run_id), "test_started_at_ms")  # a reused run id starts afresh
    _write_meta(client, run_dir, meta_doc)
    command = locust_command(
        host=host,
        redis_url=redis_url,
        users=users,
        spawn_rate=spawn_rate,
        planned_s=planned_s,
        shape=shape,
        processes=processes,
        client_policy=client_policy,
        run_id=run_id,
        run_dir=run_dir,
        scenario_args=scenario.to_args(),
    )
    (run_dir / "command.txt").write_text(" ".join(command) + "\n")
    proc, returncode = run_locust(
        command,
        run_dir=run_dir,
        cpu_affinity=cpu_affinity,
        planned_s=planned_s,
        client=client,
        run_id=run_id,
        progress=progress,
        on_start=on_start,
    )
    meta_doc.update(ended_at_ms=int(time.time() * 1000), returncode=returncode)
    meta_doc.update(_stage_windows(client, run_id=run_id, stages=stages))
    _write_meta(client, run_dir, meta_doc)
    counters = read_counters(client, run_id=run_id)
    (run_dir / "counters.json").write_text(json.dumps(counters, indent=2) + "\n")
    summary = summarize(client, run_id=run_id, run_dir=run_dir, meta=meta_doc, counters=counters)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    client.close()
    return SwarmResult(
        run_id=run_id,
        run_dir=run_dir,
        summary=summary,
        returncode=returncode,
        stages=stages,
        pid=proc.pid,
    )


def _stage_windows(client: redis.Redis, *, run_id: str, stages: list[Stage]) -> dict[str, Any]:
    """Planned stages on the wall clock, from when Locust's test actually started.

    ``started_at_ms`` is when the subprocess was launched; Locust imports for a few
    seconds before its shape clock starts, so steps are placed from the
    ``test_started_at_ms`` the recorders stamp (absent when nothing was recorded).
    """
    raw: Any = client.hget(meta_key(run_id), "test_started_at_ms")
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


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def _check_params(
    *, users: int, spawn_rate: float, duration_s: float, processes: int, client_policy: str
) -> None:
    if users < 1:
        raise UserError(f"--users must be at least 1, got {users}")
    if spawn_rate <= 0:
        raise UserError(f"--spawn-rate must be positive, got {spawn_rate}")
    if not 0 < duration_s <= 24 * 3600:
        raise UserError(f"--duration must be within 1 s..24 h, got {duration_s} s")
    if not 1 <= processes <= (os.cpu_count() or 1) * 4:
        raise UserError(f"--processes must be within 1..{(os.cpu_count() or 1) * 4}")
    _policy_doc(client_policy)


def _transport(scenario: ScenarioParams) -> str:
    """The transport the Locust subprocess will pick (it inherits this environment)."""
    return choose_transport(option=scenario.realtime, environ=os.environ)


def check_scenario(scenario: ScenarioParams) -> None:
    """``--realtime`` names a transport; ``--reconnect-every-s`` is a sane mean."""
    try:
        choose_transport(option=scenario.realtime, environ={})
    except UnknownTransport as exc:
        raise UserError(str(exc)) from None
    if not 0 <= scenario.reconnect_every_s <= 24 * 3600:
        raise UserError(
            f"--reconnect-every-s must be within 0..86400, got {scenario.reconnect_every_s}"
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
        meta_key(meta_doc["run_id"]),
        mapping={k: json.dumps(v, default=str) for k, v in meta_doc.items()},
    )
