"""``pollcap swarm`` and ``pollcap bench-swarm``: typer functions the main app registers.

Without ``--host`` the swarm brings up what it needs itself: the embedded stack
(or ``--redis-url``/``--database-url``) and the reference service, then stops
them. The summary goes to stdout as JSON with ``--json``; progress goes to stderr.
Exit code 1 when a message was lost or duplicated (the run's integrity check),
2 for user mistakes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loadtests.shapes import parse_timespan_s
from loadtests.swarm.targets import bench_target, target
from target_service.errors import UserError

if TYPE_CHECKING:  # loadtests.swarm.run loads pandas; `pollcap --help` should not wait for it
    from loadtests.swarm.run import SwarmProgress

err = Console(stderr=True)
RedisOpt = Annotated[
    str | None, typer.Option(envvar="POLLCAP_REDIS_URL", help="The service's Redis (launch none)")
]
MetricsRedisOpt = Annotated[
    str | None,
    typer.Option(
        envvar="POLLCAP_METRICS_REDIS_URL",
        help="Redis for the load test's samples and counters (default: a Valkey of its own)",
    ),
]
DatabaseOpt = Annotated[
    str | None, typer.Option(envvar="POLLCAP_DATABASE_URL", help="PostgreSQL for the service")
]


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[SwarmProgress], None] | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("swarm"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[users]} users  {task.fields[rps]:.0f} polls/s"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("swarm", total=1.0, users=0, rps=0.0)

        def update(p: SwarmProgress) -> None:
            bar.update(
                task,
                completed=min(p.elapsed_s / max(p.planned_s, 1e-9), 1.0),
                users=p.users,
                rps=p.rps,
            )

        yield update


def swarm(
    users: Annotated[int, typer.Option(help="Simulated users (peak for ramp shapes)")] = 200,
    spawn_rate: Annotated[float | None, typer.Option(help="Users started per second")] = None,
    duration: Annotated[str, typer.Option(help="Run time: 60s, 5m, ...")] = "60s",
    shape: Annotated[
        str,
        typer.Option(help="constant | step:start=,step=,hold=,max= | spike:base=,peak=,at=,hold="),
    ] = "constant",
    processes: Annotated[int, typer.Option(help="Locust processes (--processes)")] = 1,
    client_policy: Annotated[
        str, typer.Option(help="fixed-2s | seed-dynamic | seed-optimal | server | policy.json")
    ] = "fixed-2s",
    channels: Annotated[int, typer.Option(help="Chat channels (skewed popularity)")] = 10,
    sender_share: Annotated[float, typer.Option(help="Share of users that send")] = 0.1,
    send_rate_per_min: Annotated[float, typer.Option(help="Messages/min per sender")] = 6.0,
    notification_rate: Annotated[float, typer.Option(help="Notifications created per s")] = 1.0,
    hidden_share: Annotated[float, typer.Option(help="Share of time tabs are hidden")] = 0.0,
    offline_share: Annotated[float, typer.Option(help="Share of time clients are offline")] = 0.0,
    host: Annotated[str | None, typer.Option(help="Target service; default: start one")] = None,
    redis_url: RedisOpt = None,
    metrics_redis_url: MetricsRedisOpt = None,
    database_url: DatabaseOpt = None,
    allow_remote: Annotated[bool, typer.Option(help="Allow a non-loopback --host")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    cache: Annotated[str, typer.Option(help="Service cache mode: fresh | seed")] = "fresh",
    policy: Annotated[str, typer.Option(help="Service interval policy")] = "fixed-2s",
    workers: Annotated[int, typer.Option(help="Service uvicorn workers")] = 1,
    runs_dir: Annotated[Path, typer.Option(help="Where runs/<run-id>/ goes")] = Path("runs"),
    run_id: Annotated[str | None, typer.Option(help="Run id (default: generated)")] = None,
) -> None:
    """Run a bounded Locust swarm of simulated chat tabs and print its summary."""
    duration_s = parse_timespan_s(duration)
    rate = spawn_rate if spawn_rate is not None else max(1.0, min(users / 10, 200.0))
    from loadtests.swarm.run import ScenarioParams, run_swarm

    scenario = ScenarioParams(
        channels=channels,
        sender_share=sender_share,
        send_rate_per_min=send_rate_per_min,
        notification_rate_per_s=notification_rate,
        hidden_share=hidden_share,
        offline_share=offline_share,
        admin_token=os.environ.get("POLLCAP_ADMIN_TOKEN"),
    )
    if host is not None:
        from loadtests.swarm.safety import check_host

        check_host(host, allow_remote=allow_remote)  # before starting anything
    with target(
        host=host,
        redis_url=redis_url,
        database_url=database_url,
        cache=cache,
        policy=policy,
        workers=workers,
        metrics_redis_url=metrics_redis_url,
    ) as (url, redis_for_samples):
        with progress_bar(err.is_terminal or not json_out) as on_progress:
            result = run_swarm(
                host=url,
                redis_url=redis_for_samples,
                users=users,
                spawn_rate=rate,
                duration_s=duration_s,
                shape=shape,
                processes=processes,
                client_policy=client_policy,
                run_id=run_id,
                runs_dir=runs_dir,
                progress=on_progress,
                allow_remote=allow_remote,
                scenario=scenario,
                meta={
                    "service": None
                    if host
                    else {"cache": cache, "policy": policy, "workers": workers}
                },
            )
    summary = result.summary
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        err.print(summary_table(summary))
        err.print(f"run folder: {result.run_dir}")
    if summary["lost"] or summary["duplicated"]:
        err.print(f"[red]integrity: {summary['lost']} lost, {summary['duplicated']} duplicated")
        raise typer.Exit(1)


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"swarm {summary['run_id']}", show_header=False)
    for key in (
        "users",
        "requests",
        "rps",
        "poll_rps",
        "messages_sent",
        "messages_delivered",
        "lost",
        "duplicated",
        "reordered",
        "errors",
        "poll_late_ms_mean",
    ):
        table.add_row(key, str(summary.get(key)))
    for key in ("poll_latency_ms", "delivery_latency_ms", "notification_latency_ms"):
        pct = summary.get(key) or {}
        table.add_row(key, "  ".join(f"{k} {v}" for k, v in pct.items()))
    return table


def bench_swarm(
    users: Annotated[int, typer.Option(help="2-second pollers in the one Locust process")] = 4000,
    duration: Annotated[str, typer.Option(help="Run time of each arm")] = "60s",
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 200.0,
    target_kind: Annotated[
        str,
        typer.Option(
            "--target",
            help=(
                "stub: in-memory poll API server (measures the generator alone); "
                "service: the reference service (then the service is usually the limit)"
            ),
        ),
    ] = "stub",
    workers: Annotated[int, typer.Option(help="Service uvicorn workers (--target service)")] = 1,
    redis_url: RedisOpt = None,
    database_url: DatabaseOpt = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the two runs go")] = Path("runs"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
) -> None:
    """Generator bench: N pollers on one Locust process, recording on vs off, CPU from outside."""
    from loadtests.bench.run import arm_dict, bench_text, run_arm, verdict

    if target_kind not in ("stub", "service"):
        raise UserError(f"--target must be stub or service, got {target_kind!r}")
    duration_s = parse_timespan_s(duration)
    cores = sorted(os.sched_getaffinity(0))
    generator_cpus = cores[:1]
    target_cpus = cores[1:] or None
    from loadtests.swarm.run import ScenarioParams

    scenario = ScenarioParams(sender_share=0.005, notification_rate_per_s=1.0)
    arms = []
    with bench_target(
        kind=target_kind,
        redis_url=redis_url,
        database_url=database_url,
        workers=workers,
        cpu_affinity=target_cpus,
    ) as (url, rurl):
        for record in (True, False):
            with progress_bar(err.is_terminal) as on_progress:
                arms.append(
                    run_arm(
                        record=record,
                        host=url,
                        redis_url=rurl,
                        users=users,
                        spawn_rate=spawn_rate,
                        duration_s=duration_s,
                        runs_dir=runs_dir,
                        cpu_affinity=generator_cpus,
                        scenario=scenario,
                        progress=on_progress,
                    )
                )
    figures = {
        "users": users,
        "target": target_kind,
        "generator_cpus": generator_cpus,
        "target_cpus": target_cpus,
        "arms": [arm_dict(arm) for arm in arms],
        **verdict(arms[0], arms[1]),
    }
    runs_dir.mkdir(parents=True, exist_ok=True)
    (runs_dir / f"bench-swarm-{arms[0].run_id}.json").write_text(json.dumps(figures, indent=2))
    typer.echo(json.dumps(figures, indent=2) if json_out else bench_text(figures))


COMMANDS = [swarm, bench_swarm]
