"""``pollcap swarm`` (and, from :mod:`analysis.cli.bench_swarm`, ``pollcap bench-swarm``).

Without ``--host`` the swarm brings up what it needs itself: the embedded stack
(or ``--redis-url``/``--database-url``) and the reference service, then stops
them. The summary goes to stdout as JSON with ``--json``; progress goes to stderr.
Exit code 1 when a message was lost or duplicated (the run's integrity check),
2 for user mistakes. The scenario flags come from the scenario table
(:mod:`analysis.cli.scenario_flags`); what is shown, from :mod:`analysis.cli.swarm_output`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analysis.cli.bench_swarm import bench_swarm
from analysis.cli.options import (
    DatabaseUrlOpt,
    MetricsRedisUrlOpt,
    RedisUrlOpt,
    ServicePidOpt,
    check_own_service,
)
from analysis.cli.scenario_flags import scenario_options
from analysis.cli.swarm_output import err, progress_bar, summary_table
from loadtests.clients.options import ScenarioParams
from loadtests.durations import parse_duration_s
from loadtests.swarm.targets import target

if TYPE_CHECKING:  # loadtests.swarm.run loads pandas; `pollcap --help` should not wait for it
    from loadtests.swarm.run import SwarmResult

__all__ = ["COMMANDS", "SwarmJob", "bench_swarm", "summary_table", "swarm"]
MAX_DEFAULT_SPAWN_RATE = 200.0


@scenario_options
def swarm(
    *,
    scenario: ScenarioParams,
    client_policy: str,
    shape: str,
    users: Annotated[int, typer.Option(help="Simulated users (peak for ramp shapes)")] = 200,
    spawn_rate: Annotated[float | None, typer.Option(help="Users started per second")] = None,
    duration: Annotated[str, typer.Option(help="Run time (duration: 60s, 5m)")] = "60s",
    processes: Annotated[int, typer.Option(help="Locust processes (--processes)")] = 1,
    host: Annotated[str | None, typer.Option(help="Target service; default: start one")] = None,
    redis_url: RedisUrlOpt = None,
    metrics_redis_url: MetricsRedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    allow_remote: Annotated[bool, typer.Option(help="Allow a non-loopback --host")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    cache: Annotated[str, typer.Option(help="Service cache mode: fresh | seed")] = "fresh",
    policy: Annotated[str, typer.Option(help="Service interval policy")] = "fixed-2s",
    workers: Annotated[int, typer.Option(help="Service uvicorn workers")] = 1,
    runs_dir: Annotated[Path, typer.Option(help="Where runs/<run-id>/ goes")] = Path("runs"),
    run_id: Annotated[str | None, typer.Option(help="Run id (default: generated)")] = None,
    service_pid: ServicePidOpt = None,
) -> None:
    """Run a bounded Locust swarm of simulated chat tabs and print its summary.

    The scenario options (channels, senders, spells, ...) are the locustfile's own;
    plain ``locust -f loadtests/locustfile.py`` takes the same flags. With ``--target
    FILE --host URL`` the tabs speak your service's API as the description states.
    """
    job = SwarmJob(
        scenario=scenario, client_policy=client_policy, shape=shape, users=users,
        spawn_rate=default_spawn_rate(users) if spawn_rate is None else spawn_rate,
        duration_s=parse_duration_s(duration), processes=processes, host=host,
        redis_url=redis_url, metrics_redis_url=metrics_redis_url, database_url=database_url,
        allow_remote=allow_remote, cache=cache, policy=policy, workers=workers,
        runs_dir=runs_dir, run_id=run_id, service_pid=service_pid,
    )
    job.check()  # before starting anything
    result, summary = job.run(show_progress=err.is_terminal or not json_out)
    show_summary(summary, run_dir=result.run_dir, json_out=json_out)


def default_spawn_rate(users: int) -> float:
    """A tenth of the users per second, within 1..200."""
    return max(1.0, min(users / 10, MAX_DEFAULT_SPAWN_RATE))


@dataclass(frozen=True, kw_only=True)
class SwarmJob:
    """One ``pollcap swarm``: the target (``--host`` or one started here), the swarm and
    the service's CPU and memory read beside it."""

    scenario: ScenarioParams
    client_policy: str
    shape: str
    users: int
    spawn_rate: float
    duration_s: float
    processes: int
    host: str | None
    redis_url: str | None
    metrics_redis_url: str | None
    database_url: str | None
    allow_remote: bool
    cache: str
    policy: str
    workers: int
    runs_dir: Path
    run_id: str | None
    service_pid: int | None

    def check(self) -> None:
        from loadtests.swarm.run import check_scenario

        check_scenario(self.scenario)
        check_own_service(target=Path(self.scenario.target) if self.scenario.target else None,
                          host=self.host, allow_remote=self.allow_remote,
                          service_pid=self.service_pid)

    def run(self, *, show_progress: bool) -> tuple[SwarmResult, dict[str, Any]]:
        """The swarm's result and its summary with the service's figures (``service``)."""
        from loadtests.swarm.run import run_swarm
        from loadtests.swarm.service_watch import ServiceWatch, service_pids, soak_warmup_s

        started: list[Callable[[], list[int]]] = []
        with target(host=self.host, redis_url=self.redis_url, database_url=self.database_url,
                    cache=self.cache, policy=self.policy, workers=self.workers,
                    metrics_redis_url=self.metrics_redis_url,
                    service_pids=started) as (url, redis_for_samples):
            watch = ServiceWatch(service_pids(started=started[0] if started else None,
                                              pid=self.service_pid))
            with progress_bar(show_progress) as on_progress, watch:
                result = run_swarm(
                    host=url, redis_url=redis_for_samples, users=self.users,
                    spawn_rate=self.spawn_rate, duration_s=self.duration_s, shape=self.shape,
                    processes=self.processes, client_policy=self.client_policy,
                    run_id=self.run_id, runs_dir=self.runs_dir, progress=on_progress,
                    allow_remote=self.allow_remote, scenario=self.scenario,
                    meta={"service": self.service_meta()},
                )
        warmup_s = soak_warmup_s(users=self.users, spawn_rate=self.spawn_rate,
                                 duration_s=self.duration_s)
        return result, {**result.summary, "service": watch.figures(warmup_s=warmup_s)}

    def service_meta(self) -> dict[str, Any] | None:
        """The started service's settings for ``meta.json`` (None for a ``--host``)."""
        if self.host:
            return None
        return {"cache": self.cache, "policy": self.policy, "workers": self.workers}


def show_summary(summary: dict[str, Any], *, run_dir: Path, json_out: bool) -> None:
    """Save ``summary.json``, print it (JSON or a table); exit 1 on lost or duplicated."""
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        err.print(summary_table(summary))
        err.print(f"run folder: {run_dir}")
    if summary["lost"] or summary["duplicated"]:
        err.print(f"[red]integrity: {summary['lost']} lost, {summary['duplicated']} duplicated")
        raise typer.Exit(1)


COMMANDS = [swarm, bench_swarm]
