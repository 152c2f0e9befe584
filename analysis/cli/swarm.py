"""``pollcap swarm`` and ``pollcap bench-swarm``: typer functions the main app registers.

Without ``--host`` the swarm brings up what it needs itself: the embedded stack
(or ``--redis-url``/``--database-url``) and the reference service, then stops
them. The summary goes to stdout as JSON with ``--json``; progress goes to stderr.
Exit code 1 when a message was lost or duplicated (the run's integrity check),
2 for user mistakes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analysis.cli.options import MetricsRedisUrlOpt, ServicePidOpt, check_own_service
from loadtests.clients.options import ScenarioOption, ScenarioParams
from loadtests.durations import format_duration, parse_duration_s
from loadtests.swarm.targets import bench_target, target
from target_service.errors import UserError

if TYPE_CHECKING:  # loadtests.swarm.run loads pandas; `pollcap --help` should not wait for it
    from loadtests.swarm.run import SwarmProgress

err = Console(stderr=True)
RedisOpt = Annotated[
    str | None, typer.Option(envvar="POLLCAP_REDIS_URL", help="The service's Redis (launch none)")
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
        TextColumn("{task.fields[users]} users  {task.fields[polls_per_s]:.0f} polls/s"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("swarm", total=1.0, users=0, polls_per_s=0.0)

        def update(p: SwarmProgress) -> None:
            bar.update(
                task,
                completed=min(p.elapsed_s / max(p.planned_s, 1e-9), 1.0),
                users=p.users,
                polls_per_s=p.polls_per_s,
            )

        yield update


def scenario_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a typer command one option per row of the scenario table.

    ``command`` declares its own options and takes ``scenario`` (a ScenarioParams)
    plus ``client_policy`` and ``shape``; typer sees those replaced by the table's
    rows (:data:`loadtests.clients.options.SWARM_OPTIONS`), the same rows Locust's
    parser is built from.
    """
    from loadtests.clients.options import SWARM_OPTIONS

    hints = get_type_hints(command, include_extras=True)
    table = {o.name for o in SWARM_OPTIONS}
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name not in table and p.name != "scenario"
    ]
    generated = [_typer_parameter(o) for o in SWARM_OPTIONS]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        from loadtests.clients.options import ScenarioParams

        workload: dict[str, Any] = {}
        for option in SWARM_OPTIONS:
            value = values.pop(option.name)
            if option.is_duration:
                value = parse_duration_s(value)
            if option.workload:
                workload[option.name] = value
            else:
                values[option.name] = value
        command(scenario=ScenarioParams(**workload), **values)

    params = [*own, *generated]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _typer_parameter(option: ScenarioOption) -> inspect.Parameter:
    """One typer option from a table row (durations as text, parsed in the wrapper)."""
    if option.type is bool:
        base = option.flag.removeprefix("--no-").removeprefix("--")
        info = typer.Option(f"--{base}/--no-{base}", help=option.help_text())
        annotation: Any = Annotated[bool, info]
        default: Any = option.default
    else:
        info = typer.Option(option.flag, help=option.help_text(), envvar=option.env)
        kind: Any = str if option.is_duration else option.type
        annotation = Annotated[kind, info]
        default = format_duration(option.default) if option.is_duration else option.default
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


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
    redis_url: RedisOpt = None,
    metrics_redis_url: MetricsRedisUrlOpt = None,
    database_url: DatabaseOpt = None,
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
    duration_s = parse_duration_s(duration)
    rate = spawn_rate if spawn_rate is not None else max(1.0, min(users / 10, 200.0))
    from loadtests.swarm.run import check_scenario, run_swarm
    from loadtests.swarm.service_watch import ServiceWatch, service_pids, soak_warmup_s

    check_scenario(scenario)  # before starting anything
    check_own_service(target=Path(scenario.target) if scenario.target else None, host=host,
                      allow_remote=allow_remote, service_pid=service_pid)
    started: list[Callable[[], list[int]]] = []
    with target(
        host=host,
        redis_url=redis_url,
        database_url=database_url,
        cache=cache,
        policy=policy,
        workers=workers,
        metrics_redis_url=metrics_redis_url,
        service_pids=started,
    ) as (url, redis_for_samples):
        watch = ServiceWatch(service_pids(started=started[0] if started else None,
                                          pid=service_pid))
        with progress_bar(err.is_terminal or not json_out) as on_progress, watch:
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
    warmup_s = soak_warmup_s(users=users, spawn_rate=rate, duration_s=duration_s)
    summary = {**result.summary, "service": watch.figures(warmup_s=warmup_s)}
    (result.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
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
    if summary.get("realtime", "polling") != "polling" or summary.get("reconnects"):
        table.add_row("realtime", str(summary.get("realtime")))
        for key in ("connections_peak", "connects", "reconnects", "forced_drops"):
            table.add_row(key, str(summary.get(key)))
        table.add_row("messages_resumed", str(summary.get("messages_resumed")))
        pct = summary.get("reconnect_ms") or {}
        table.add_row("reconnect_ms", "  ".join(f"{k} {v}" for k, v in pct.items()))
    service = summary.get("service") or {}
    if service.get("measured"):
        table.add_row("service_cpu_cores", f"mean {service['cpu_cores_mean']}  "
                      f"peak {service['cpu_cores_peak']}")
        table.add_row("service_rss_mb_peak", str(service["rss_mb_peak"]))
        if service.get("rss_growth_pct") is not None:
            table.add_row("service_rss_growth", f"{service['rss_growth_pct']}% after warm-up"
                          f" ({service['rss_mb_after_warmup']} -> {service['rss_mb_end']} MB,"
                          f" warm-up {service['rss_warmup_s']} s)")
    elif service:
        table.add_row("service", str(service.get("why")))
    for problem in summary.get("problems") or []:
        table.add_row("[red]problem[/red]", problem)
    return table


def bench_swarm(
    users: Annotated[
        int, typer.Option(help="2-second pollers in the one Locust process (target: 10000)")
    ] = 10_000,
    duration: Annotated[str, typer.Option(help="Run time of each arm (duration: 60s, 2m)")] = "60s",
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 400.0,
    target_kind: Annotated[
        str,
        typer.Option(
            "--against",
            help=(
                "stub: in-memory poll API server (measures the generator alone); "
                "service: the reference service (then the service is usually the limit)"
            ),
        ),
    ] = "stub",
    workers: Annotated[
        int, typer.Option(help="Service uvicorn workers (--against service)")
    ] = 1,
    redis_url: RedisOpt = None,
    database_url: DatabaseOpt = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the two runs go")] = Path("runs"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
    gc_tuning: Annotated[
        bool, typer.Option(help="Freeze objects after the ramp, fewer young GC passes (A/B)")
    ] = True,
) -> None:
    """Generator bench: N pollers on one Locust process, recording on vs off, CPU from outside.

    Prints each target (pollers, rate held, recording's CPU share) beside its measured
    value and the ratio; exit 1 when a target is missed or an arm failed.
    """
    from loadtests.bench.run import run_arm
    from loadtests.bench.verdict import bench_text, verdict

    if target_kind not in ("stub", "service"):
        raise UserError(f"--against must be stub or service, got {target_kind!r}")
    duration_s = parse_duration_s(duration)
    cores = sorted(os.sched_getaffinity(0))
    generator_cpus, target_cpus = cores[:1], cores[1:] or None
    scenario = ScenarioParams(sender_share=0.005, notification_rate_per_s=1.0, gc_tuning=gc_tuning)
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
                arm = run_arm(
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
                arms.append(arm)
    figures = {
        "users": users,
        "target": target_kind,
        "generator_cpus": generator_cpus,
        "target_cpus": target_cpus,
        "gc_tuning": gc_tuning,
        "arms": [dataclasses.asdict(arm) for arm in arms],
        **verdict(arms[0], arms[1], users=users),
    }
    runs_dir.mkdir(parents=True, exist_ok=True)
    name = arms[0].run_id or arms[1].run_id or "failed"
    (runs_dir / f"bench-swarm-{name}.json").write_text(json.dumps(figures, indent=2))
    typer.echo(json.dumps(figures, indent=2) if json_out else bench_text(figures))
    if not figures["ok"]:
        raise typer.Exit(1)


COMMANDS = [swarm, bench_swarm]
