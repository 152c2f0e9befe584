"""``pollcap capacity``: the main job, end to end, with a progress bar.

Exit codes: 0 when the run completed (and the SLO holds at ``--target-users``), 1 when
the SLO fails at ``--target-users``, 2 for bad input.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from analysis.capacity.ramp import RampPlan, make_plan
from analysis.cli.capacity_inputs import (
    AllowRemoteOpt,
    BudgetOpt,
    ClientPolicyOpt,
    ExpectWorkersOpt,
    FixedRampOpt,
    GeneratorCpusOpt,
    HoldOpt,
    HostOpt,
    MasterBindHostOpt,
    MasterBindPortOpt,
    MasterOpt,
    MaxUsersOpt,
    PlanStepsOpt,
    PolicyOpt,
    ProcessesOpt,
    QuickOpt,
    RealtimeOpt,
    ReconnectEveryOpt,
    ServiceCpusOpt,
    StartUsersOpt,
    StepUsersOpt,
    SweepWorkersOpt,
    WorkersOpt,
    WorkersWaitOpt,
    check_policies,
    cpu_list,
    knee_settings,
    master_spec,
    transport,
)
from analysis.cli.options import (
    CacheOpt,
    ChannelsOpt,
    DatabaseUrlOpt,
    HeadroomOpt,
    PricePerMillionOpt,
    PricesOpt,
    RedisUrlOpt,
    ReportsDirOpt,
    RunsDirOpt,
    SeedOpt,
    SenderShareOpt,
    SendRateOpt,
    ServicePidOpt,
    SloP95Opt,
    TargetOpt,
    TargetUsersOpt,
    check_cache_mode,
    check_own_service,
    duration_s,
)
from analysis.defaults import PLAN_DEFAULTS, REPORTS_DIR, RUNS_DIR
from loadtests.clients.options import DEFAULT_SEED
from target_service.errors import UserError

if TYPE_CHECKING:  # the runner loads pandas, Locust's helpers and the service
    from pathlib import Path

    from analysis.capacity.run import CapacityConfig, CapacityRun
    from analysis.model.pricing import PriceTable


def capacity(
    quick: QuickOpt = False,
    max_users: MaxUsersOpt = None,
    fixed_ramp: FixedRampOpt = False,
    plan_steps: PlanStepsOpt = None,
    budget: BudgetOpt = None,
    start_users: StartUsersOpt = None,
    step_users: StepUsersOpt = None,
    hold: HoldOpt = None,
    slo_p95_ms: SloP95Opt = PLAN_DEFAULTS.slo_p95_ms,
    target_users: TargetUsersOpt = None,
    headroom: HeadroomOpt = PLAN_DEFAULTS.headroom,
    price_per_million: PricePerMillionOpt = PLAN_DEFAULTS.price_per_million_usd,
    prices: PricesOpt = None,
    policy: PolicyOpt = "fixed-2s",
    client_policy: ClientPolicyOpt = "fixed-2s",
    cache: CacheOpt = "fresh",
    channels: ChannelsOpt = 200,
    sender_share: SenderShareOpt = 0.1,
    send_rate_per_min: SendRateOpt = 6.0,
    seed: SeedOpt = DEFAULT_SEED,
    realtime: RealtimeOpt = None,
    reconnect_every: ReconnectEveryOpt = "0s",
    workers: WorkersOpt = 1,
    sweep_workers: SweepWorkersOpt = False,
    service_cpus: ServiceCpusOpt = "0",
    generator_cpus: GeneratorCpusOpt = "1",
    processes: ProcessesOpt = 1,
    master: MasterOpt = False,
    expect_workers: ExpectWorkersOpt = None,
    master_bind_host: MasterBindHostOpt = "127.0.0.1",
    master_bind_port: MasterBindPortOpt = 5557,
    workers_wait: WorkersWaitOpt = "120s",
    host: HostOpt = None,
    target: TargetOpt = None,
    service_pid: ServicePidOpt = None,
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    allow_remote: AllowRemoteOpt = False,
    reports_dir: ReportsDirOpt = REPORTS_DIR,
    runs_dir: RunsDirOpt = RUNS_DIR,
) -> None:
    """The main job: step-ramp users to saturation, fit the USL, find SLO capacity, plan, report."""
    from analysis.capacity.run import CapacityConfig
    from analysis.model.pricing import with_user_tables
    from loadtests.swarm.run import ScenarioParams

    check_policies(policy=policy, client_policy=client_policy)
    check_cache_mode(cache)
    if sweep_workers and (host is not None or master):
        raise UserError(SWEEP_EXCLUDES)  # before --host is tried for a connection
    target_path = check_own_service(target=target, host=host, allow_remote=allow_remote,
                                    service_pid=service_pid)
    tables = with_user_tables(prices)  # a bad --prices file fails before anything starts
    plan = make_plan(quick=quick, knee=not fixed_ramp, max_users=max_users,
                     start_users=start_users, step_users=step_users, plan_steps=plan_steps,
                     hold_s=None if hold is None else duration_s(hold, option="--hold"))
    knee = None if fixed_ramp else knee_settings(quick=quick, max_users=max_users, budget=budget)
    cfg = CapacityConfig(
        plan=plan, slo_p95_ms=slo_p95_ms, target_users=target_users, headroom=headroom,
        price_per_million_usd=price_per_million, policy=policy, client_policy=client_policy,
        cache_mode=cache, workers=workers,
        service_cpus=cpu_list(service_cpus, "--service-cpus"),
        generator_cpus=cpu_list(generator_cpus, "--generator-cpus"),
        processes=processes,
        master=master_spec(master=master, expect_workers=expect_workers,
                           bind_host=master_bind_host, bind_port=master_bind_port,
                           workers_wait=workers_wait, processes=processes,
                           allow_remote=allow_remote),
        host=host, redis_url=redis_url, database_url=database_url,
        allow_remote=allow_remote, service_pid=service_pid,
        scenario=ScenarioParams(
            target=target_path, channels=channels, sender_share=sender_share,
            send_rate_per_min=send_rate_per_min, seed=seed, realtime=transport(realtime),
            reconnect_every_s=duration_s(reconnect_every, option="--reconnect-every"),
        ),
        runs_dir=runs_dir,
        knee=knee,
    )
    started = time.monotonic()
    if sweep_workers:
        _sweep(cfg, reports_dir=reports_dir, price_tables=tables)
        typer.echo(f"total:   {time.monotonic() - started:.0f} s")
        return
    run = _run_with_progress(cfg)
    if not _report(run, reports_dir=reports_dir, started=started, price_tables=tables):
        raise typer.Exit(code=1)


SWEEP_EXCLUDES = ("--sweep-workers starts the service itself with a local generator: "
                  "it excludes --host and --master")


def _sweep(cfg: CapacityConfig, *, reports_dir: Path, price_tables: list[PriceTable]) -> None:
    """``--sweep-workers``: the service's workers vary, so it must be ours and Locust local."""
    from analysis.cli.worker_sweep import sweep_workers

    if cfg.host is not None or cfg.master is not None:
        raise UserError(SWEEP_EXCLUDES)
    sweep_workers(cfg, run=_run_with_progress, reports_dir=reports_dir, price_tables=price_tables)


def _run_with_progress(cfg: CapacityConfig) -> CapacityRun:
    """The measurement under a progress bar on stderr (phase, users, poll rate, stop reason)."""
    from analysis.capacity.run import run_capacity
    from analysis.capacity.setup import capacity_setup
    from loadtests.swarm.run import SwarmProgress

    plan: RampPlan = cfg.plan
    total_s = cfg.knee.swarm_s if cfg.knee else plan.duration_s
    console = Console(stderr=True)
    ramp = (f"knee ramp: planned {', '.join(map(str, plan.users))} users, then extend (x1.5, "
            f"<= {cfg.knee.max_users}) and bisect the SLO crossing, within {cfg.knee.budget_s:g} s"
            if cfg.knee else f"steps {', '.join(map(str, plan.users))} users")
    console.print(
        f"[bold]pollcap capacity[/]: {ramp}; {plan.hold_s:g} s each; "
        f"SLO p95 delivery ≤ {cfg.slo_p95_ms:g} ms"
    )
    setup = capacity_setup(cfg)
    console.print(setup.description, markup=False)
    if setup.note:
        console.print(f"[yellow]note:[/] {setup.note}")
    if cfg.master:
        console.print(f"waiting for {cfg.master.expect_workers} Locust worker(s) on "
                      f"{cfg.master.bind_host}:{cfg.master.bind_port}")
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("starting", total=total_s, status="")

        def on_progress(p: SwarmProgress, stop_reason: str) -> None:
            status = f"{p.users:>5} users {p.polls_per_s:>6.0f} polls/s"
            if stop_reason:
                status += f"  stopping: {stop_reason}"
            bar.update(task, completed=min(p.elapsed_s, total_s), status=status)

        run = run_capacity(cfg, on_progress=on_progress,
                           on_phase=lambda message: bar.update(task, description=message))
        bar.update(task, description="done", completed=total_s)
    return run


def _report(run: CapacityRun, *, reports_dir: Path, started: float,
            price_tables: list[PriceTable]) -> bool:
    """Write the folder and the report, print the table; True unless the SLO fails at target."""
    from analysis.report.console import print_report
    from analysis.report.render import build_report
    from analysis.runs import run_dir, save_run_data

    folder = save_run_data(run.data, reports_dir=reports_dir)
    files = build_report(run.data, out_dir=run_dir(run.data.run_id, reports_dir=reports_dir),
                         price_tables=price_tables)
    out = Console()
    print_report(files.analysis, console=out)
    _print_generators(out, run.data.meta)
    out.print(f"stopped: {run.stop_reason}")
    out.print(f"report:  {files.html}")
    out.print(f"data:    {folder}  (rebuild with `pollcap report {run.data.run_id}`)")
    out.print(f"total:   {time.monotonic() - started:.0f} s")
    return files.analysis.slo_at_target is not False


def _print_generators(out: Console, meta: dict[str, object]) -> None:
    """The setup line, and each Locust process's polls/s per step when there were several."""
    out.print(f"setup:   {meta.get('setup')}", markup=False)
    if meta.get("setup_note"):
        out.print(f"[yellow]note:[/]    {meta['setup_note']}")
    rows = meta.get("generator_steps") or []
    assert isinstance(rows, list)
    if len({r["process"] for r in rows}) < 2:
        return
    by_users: dict[int, list[str]] = {}
    for r in rows:
        by_users.setdefault(int(r["users"]), []).append(f"{r['process']} {r['polls_per_s']:.1f}")
    for users, shares in by_users.items():
        out.print(f"polls/s per Locust process at {users} users: {', '.join(shares)}", markup=False)


COMMANDS = [capacity]
