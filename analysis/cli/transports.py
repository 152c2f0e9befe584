"""``pollcap transports``: one short knee ramp per transport, then the break-even report.

Exit codes: 0 when every run completed, 2 for bad input.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console

from analysis.cli.options import (
    ChannelsOpt,
    PricesOpt,
    ReportsDirOpt,
    RunsDirOpt,
    SeedOpt,
    SenderShareOpt,
    SendRateOpt,
    SloP95Opt,
    duration_s,
)
from analysis.defaults import PLAN_DEFAULTS, REPORTS_DIR, RUNS_DIR
from loadtests.clients.options import DEFAULT_SEED
from target_service.errors import UserError


def transports(
    transport: Annotated[
        list[str] | None,
        typer.Option(help="A transport to measure (repeat it): polling, long-poll, sse, "
                     "websocket. Polling is always run; default: all four."),
    ] = None,
    start_users: Annotated[int, typer.Option(min=1, help="Users of the first step.")] = 100,
    step_users: Annotated[int, typer.Option(min=1, help="Users added per planned step.")] = 300,
    plan_steps: Annotated[int, typer.Option(min=1, help="Planned steps before extending.")] = 2,
    max_users: Annotated[int, typer.Option(min=1, help="The most users a ramp may run.")] = 3000,
    hold: Annotated[str, typer.Option(help="How long each step is held (8s, 15s).")] = "8s",
    budget: Annotated[str, typer.Option(help="Each ramp's time cap (40s, 2m).")] = "40s",
    channels: ChannelsOpt = 200,
    sender_share: SenderShareOpt = 0.1,
    send_rate_per_min: SendRateOpt = 6.0,
    seed: SeedOpt = DEFAULT_SEED,
    slo_p95_ms: SloP95Opt = PLAN_DEFAULTS.slo_p95_ms,
    prices: PricesOpt = None,
    service_cpus: Annotated[str, typer.Option(help="Cores for the service (0, 0,1, any).")] = "0",
    generator_cpus: Annotated[str, typer.Option(help="Cores for Locust (1, any).")] = "1",
    reports_dir: ReportsDirOpt = REPORTS_DIR,
    runs_dir: RunsDirOpt = RUNS_DIR,
) -> None:
    """Polling or push? The same workload per transport, then the break-even report.

    Writes reports/transports-<time>/transports.html and transports.json: per transport
    users per core at the SLO, p50/p95 delivery, requests/s, memory and CPU per user,
    cost per 1,000 users per month under each price table, and the break-even chart over
    message rate per user and polling interval.
    """
    from analysis.capacity.knee_loop import KneeSettings
    from analysis.capacity.ramp import make_plan
    from analysis.capacity.run import CapacityConfig
    from analysis.cli.capacity_inputs import cpu_list
    from analysis.model.pricing import with_user_tables
    from analysis.transports.report import write_transports_report
    from analysis.transports.run import check_transports, run_transports
    from loadtests.swarm.run import ScenarioParams

    chosen = check_transports(transport or ["polling", "long-poll", "sse", "websocket"])
    tables = with_user_tables(prices)
    hold_s, budget_s = duration_s(hold, option="--hold"), duration_s(budget, option="--budget")
    if budget_s < 10:
        raise UserError(f"--budget must be at least 10 s, got {budget_s:g} s")
    plan = make_plan(quick=True, knee=True, start_users=start_users, step_users=step_users,
                     plan_steps=plan_steps, max_users=max_users, hold_s=hold_s)
    base = CapacityConfig(
        plan=plan, slo_p95_ms=slo_p95_ms, service_cpus=cpu_list(service_cpus, "--service-cpus"),
        generator_cpus=cpu_list(generator_cpus, "--generator-cpus"),
        scenario=ScenarioParams(channels=channels, sender_share=sender_share,
                                send_rate_per_min=send_rate_per_min, seed=seed),
        runs_dir=runs_dir, knee=KneeSettings(max_users=max_users, budget_s=budget_s))
    console = Console(stderr=True)
    console.print(f"[bold]pollcap transports[/]: {', '.join(chosen)}; each a knee ramp from "
                  f"{', '.join(map(str, plan.users))} users, <= {max_users}, "
                  f"<= {budget_s:g} s")
    started = time.monotonic()
    runs = run_transports(replace(base), transports=chosen, reports_dir=reports_dir,
                          price_tables=tables, on_phase=lambda m: console.print(m))
    out_dir = reports_dir / time.strftime("transports-%Y%m%d-%H%M%S")
    json_path, html_path = write_transports_report(
        runs, out_dir=out_dir, interval_s=2.0, tables=tables,
        sends_per_user_s=sender_share * send_rate_per_min / 60.0,
        workload={"users": f"{start_users}..{max_users}", "channels": channels,
                  "sender share": sender_share, "sends/min": send_rate_per_min,
                  "client policy": "fixed-2s"})
    out = Console()
    for run in runs:
        u = run.units
        per_core = "–" if u.users_per_core is None else f"{u.users_per_core:,.0f}"
        out.print(f"{run.transport:>10}: {per_core} users/core ({u.capacity_status}), "
                  f"{u.requests_per_user_s:.3f} req/s per user; {run.stop_reason}")
    out.print(f"report:  {html_path}")
    out.print(f"json:    {json_path}")
    out.print(f"total:   {time.monotonic() - started:.0f} s")


COMMANDS = [transports]
