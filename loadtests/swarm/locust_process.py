"""Locust as a subprocess: its command line, its process group, its live progress.

The swarm runs in its own process group (``start_new_session``) so one signal
reaches Locust's master and its ``--processes`` children; SIGINT lets Locust write
its CSVs before it exits. Progress is read from Redis (the recorders' live fields),
not from Locust's output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from loadtests.recording.keys import LIVE_USERS_PREFIX, run_counters_key, run_live_key
from loadtests.swarm.problems import first_error
from target_service.errors import UserError

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROGRESS_PERIOD_S = 1.0
GRACE_S = 60.0  # beyond the planned duration before the swarm is killed
STOP_S_PER_USER = 0.01  # and more for big swarms: a starved process stops 10,000 users slowly


LOCUST_MASTER_PORT = 5557  # Locust's master/worker port
WORKERS_WAIT_S = 120.0  # how long a master waits for its --expect-workers by default


def grace_s(users: int) -> float:
    """How long past its plan a swarm of ``users`` may run before it is killed."""
    return GRACE_S + STOP_S_PER_USER * users


STOP_SIGNALS = (0, -signal.SIGINT, 128 + signal.SIGINT)  # return codes of a normal end


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterSpec:
    """Locust master mode: the workers run elsewhere (``locust --worker --master-host``).

    The master listens on ``bind_host:bind_port`` (Locust's 5557 by default; loopback
    unless the caller allowed remote) and starts the test once ``expect_workers`` have
    connected, or fails after ``workers_wait_s``.
    """

    expect_workers: int
    bind_host: str = "127.0.0.1"
    bind_port: int = LOCUST_MASTER_PORT
    workers_wait_s: float = WORKERS_WAIT_S

    def args(self) -> list[str]:
        return ["--master", "--expect-workers", str(self.expect_workers),
                "--expect-workers-max-wait", str(max(1, round(self.workers_wait_s))),
                "--master-bind-host", self.bind_host, "--master-bind-port", str(self.bind_port)]


@dataclass(frozen=True, slots=True)
class SwarmProgress:
    """What a progress callback sees about once a second."""

    elapsed_s: float
    planned_s: float
    users: int
    polls_per_s: float  # chat polls per second over the last period, all processes


def locust_command(
    *,
    host: str,
    redis_url: str,
    users: int,
    spawn_rate: float,
    planned_s: float,
    shape: str,
    processes: int,
    client_policy: str,
    run_id: str,
    run_dir: Path,
    scenario_args: Sequence[str],
    master: MasterSpec | None = None,
    local_master_port: int = LOCUST_MASTER_PORT,
) -> list[str]:
    """Locust's command line. ``--processes`` forks a master and its workers on this
    machine; they talk over ``local_master_port`` on loopback only (Locust's own default
    binds the master on every interface)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{max(1, round(planned_s))}s",
        "--csv",
        str(run_dir / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--logfile",
        str(run_dir / "locust.log"),
        "--loglevel",
        "INFO",
        f"--run-id={run_id}",
        f"--redis-url={redis_url}",
        f"--client-policy={client_policy}",
        f"--shape={shape}",
        *scenario_args,
    ]
    if processes > 1:
        port = str(local_master_port)
        command += ["--processes", str(processes), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", port, "--master-port", port]
    if master is not None:
        command += master.args()
    return command


def run_locust(
    command: list[str],
    *,
    run_dir: Path,
    cpu_affinity: Sequence[int] | None,
    planned_s: float,
    client: redis.Redis,
    run_id: str,
    progress: Callable[[SwarmProgress], None] | None,
    on_start: Callable[[int], None] | None,
    extra_env: dict[str, str] | None = None,
    grace_after_s: float = GRACE_S,
) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    cpus = set(cpu_affinity) if cpu_affinity else None
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    with open(run_dir / "locust.out", "wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
            start_new_session=True,
            preexec_fn=preexec,
        )
    if on_start is not None:
        on_start(proc.pid)
    try:
        _watch(proc, planned_s=planned_s, grace_after_s=grace_after_s, run_dir=run_dir,
               client=client, run_id=run_id, progress=progress)
    except BaseException:
        stop_group(proc)
        raise
    if proc.returncode not in STOP_SIGNALS:  # SIGINT from a caller stopping early is normal
        raise UserError(
            f"Locust exited with code {proc.returncode}: {_why(run_dir)} (see {run_dir})"
        )
    return proc, proc.returncode


def _watch(
    proc: subprocess.Popen[bytes],
    *,
    planned_s: float,
    grace_after_s: float,
    run_dir: Path,
    client: redis.Redis,
    run_id: str,
    progress: Callable[[SwarmProgress], None] | None,
) -> None:
    """Wait for Locust to end, reporting progress about once a second; bounded in time."""
    started = time.monotonic()
    deadline = started + planned_s + grace_after_s
    last_polls, last_t = 0, started
    while proc.poll() is None:
        time.sleep(PROGRESS_PERIOD_S)
        now = time.monotonic()
        if now > deadline:
            stop_group(proc)
            raise UserError(f"the swarm overran its {planned_s:.0f} s plan; see {run_dir}")
        if progress is None:
            continue
        users, polls = live_status(client, run_id)
        rate = (polls - last_polls) / max(now - last_t, 1e-6) if last_polls else 0.0
        last_polls, last_t = polls, now
        progress(
            SwarmProgress(
                elapsed_s=now - started, planned_s=planned_s, users=users, polls_per_s=rate
            )
        )


def _why(run_dir: Path) -> str:
    """The first error of Locust's log, else the last line it printed."""
    log_path, out_path = run_dir / "locust.log", run_dir / "locust.out"
    found = first_error(log_path.read_text(errors="replace")) if log_path.exists() else None
    if found:
        return found
    tail = out_path.read_text(errors="replace").strip() if out_path.exists() else ""
    return tail.splitlines()[-1] if tail else "no output"


def live_status(client: redis.Redis, run_id: str) -> tuple[int, int]:
    """(users across processes, polls so far) from the recorders' live fields."""
    try:
        live: Any = client.hgetall(run_live_key(run_id=run_id))
        polls: Any = client.hget(run_counters_key(run_id=run_id), "polls")
    except redis.RedisError:
        return 0, 0
    users = sum(int(v) for k, v in live.items() if k.startswith(LIVE_USERS_PREFIX.encode()))
    return users, int(polls or 0)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the swarm's process group (Locust writes its CSVs), then SIGKILL if needed."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
