"""``pollcap capacity``: the main job, end to end, with a progress bar.

Exit codes: 0 when the run completed (and the SLO holds at ``--target-users``), 1 when
the SLO fails at ``--target-users``, 2 for bad input.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from analysis.capacity.ramp import make_plan
from analysis.defaults import REPORTS_DIR, RUNS_DIR, SLO_P95_MS
from target_service.errors import UserError


def _cpus(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None or text.strip() in ("", "any"):
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(
            f"{option} takes core numbers like 0 or 0,1 (or 'any'), got {text!r}"
        ) from None


def capacity(
    quick: Annotated[bool, typer.Option(help="A short ramp (about 90 s in all).")] = False,
    max_users: Annotated[
        int | None, typer.Option(min=1, help="Stop the ramp at this many users.")
    ] = None,
    start_users: Annotated[int | None, typer.Option(min=1, help="Users of the first step.")] = None,
    step_users: Annotated[int | None, typer.Option(min=1, help="Users added per step.")] = None,
    hold: Annotated[
        float | None, typer.Option(help="Seconds each step is held [default 18, quick 12].")
    ] = None,
    slo_p95_ms: Annotated[
        float, typer.Option(min=1, help="p95 delivery-latency SLO in ms.")
    ] = SLO_P95_MS,
    target_users: Annotated[
        int | None, typer.Option(min=1, help="Exit 1 unless the SLO holds at this many users.")
    ] = None,
    headroom: Annotated[
        float, typer.Option(min=0.05, max=1.0, help="Planned utilisation of SLO capacity.")
    ] = 0.7,
    price_per_million: Annotated[
        float, typer.Option(min=0, help="USD per million requests (serverless-style price).")
    ] = 0.20,
    policy: Annotated[
        str, typer.Option(help="Service interval policy: preset name or JSON file.")
    ] = "fixed-2s",
    client_policy: Annotated[
        str,
        typer.Option(
            help="How users pace polls: preset, JSON file, or 'server' (obey pollIntervalMs)."
        ),
    ] = "fixed-2s",
    cache: Annotated[
        str, typer.Option(help="Service cache mode: fresh or seed (the source's 5 s cache).")
    ] = "fresh",
    channels: Annotated[
        int, typer.Option(min=1, help="Chat channels users spread over (skewed).")
    ] = 200,
    sender_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of users who also send messages.")
    ] = 0.1,
    send_rate_per_min: Annotated[
        float, typer.Option(min=0.0, help="Messages per minute of each sender (Poisson).")
    ] = 6.0,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn workers of the service.")] = 1,
    service_cpus: Annotated[
        str, typer.Option(help="Cores for the service, e.g. 0 or 0,1 or any.")
    ] = "0",
    generator_cpus: Annotated[str, typer.Option(help="Cores for Locust, e.g. 1 or any.")] = "1",
    processes: Annotated[int, typer.Option(min=1, help="Locust processes generating load.")] = 1,
    host: Annotated[
        str | None, typer.Option(help="Measure this service instead of starting one.")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(envvar="POLLCAP_REDIS_URL", help="Use this Redis.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="POLLCAP_DATABASE_URL", help="Use this PostgreSQL.")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow a --host that is not loopback.")
    ] = False,
    reports_dir: Annotated[
        Path, typer.Option(help="Where reports/<run-id>/ is written.")
    ] = REPORTS_DIR,
    runs_dir: Annotated[
        Path, typer.Option(help="Where the swarm's runs/<run-id>/ is written.")
    ] = RUNS_DIR,
) -> None:
    """The main job: step-ramp users to saturation, fit the USL, find SLO capacity, plan, report."""
    from analysis.capacity.run import CapacityConfig, run_capacity
    from analysis.report.console import print_report
    from analysis.report.render import build_report
    from analysis.runs import run_dir, save_run_data
    from loadtests.swarm.run import ScenarioParams, SwarmProgress
    from target_service.policy import PolicyError, load_policy

    for option, spec in (("--policy", policy), ("--client-policy", client_policy)):
        if option == "--client-policy" and spec == "server":
            continue
        try:
            load_policy(spec)
        except PolicyError as exc:
            raise UserError(f"{option}: {exc}") from None
    if cache not in ("fresh", "seed"):
        raise UserError(f"--cache must be fresh or seed, got {cache!r}")
    plan = make_plan(
        quick=quick,
        max_users=max_users,
        start_users=start_users,
        step_users=step_users,
        hold_s=hold,
    )
    cfg = CapacityConfig(
        plan=plan,
        slo_p95_ms=slo_p95_ms,
        target_users=target_users,
        headroom=headroom,
        price_per_million_usd=price_per_million,
        policy=policy,
        client_policy=client_policy,
        cache_mode=cache,
        workers=workers,
        service_cpus=_cpus(service_cpus, "--service-cpus"),
        generator_cpus=_cpus(generator_cpus, "--generator-cpus"),
        processes=processes,
        host=host,
        redis_url=redis_url,
        database_url=database_url,
        allow_remote=allow_remote,
        scenario=ScenarioParams(
            channels=channels, sender_share=sender_share, send_rate_per_min=send_rate_per_min
        ),
        runs_dir=runs_dir,
    )
    console = Console(stderr=True)
    started = time.monotonic()
    console.print(
        f"[bold]pollcap capacity[/]: steps {', '.join(map(str, plan.users))} users, "
        f"{plan.hold_s:g} s each; SLO p95 delivery ≤ {slo_p95_ms:g} ms"
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=plan.duration_s, status="")

        def on_phase(message: str) -> None:
            bar.update(task, description=message)

        def on_progress(p: SwarmProgress, stop_reason: str) -> None:
            status = f"{p.users:>5} users {p.polls_per_s:>6.0f} polls/s"
            if stop_reason:
                status += f"  stopping: {stop_reason}"
            bar.update(task, completed=min(p.elapsed_s, plan.duration_s), status=status)

        run = run_capacity(cfg, on_progress=on_progress, on_phase=on_phase)
        bar.update(task, description="analysing", completed=plan.duration_s)
        folder = save_run_data(run.data, reports_dir=reports_dir)
        files = build_report(run.data, out_dir=run_dir(run.data.run_id, reports_dir=reports_dir))
        bar.update(task, description="done")
    print_report(files.analysis, console=Console())
    out = Console()
    out.print(f"stopped: {run.stop_reason}")
    out.print(f"report:  {files.html}")
    out.print(f"data:    {folder}  (rebuild with `pollcap report {run.data.run_id}`)")
    out.print(f"total:   {time.monotonic() - started:.0f} s")
    if files.analysis.slo_at_target is False:
        raise typer.Exit(code=1)


COMMANDS = [capacity]
