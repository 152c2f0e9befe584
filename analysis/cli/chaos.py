"""``pollcap chaos``: faults injected into a bounded swarm; exit 1 when a message was lost.

Starts the embedded stack (with a metrics Valkey of its own), the service with
>= 2 workers and a swarm, breaks things on schedule, reads every channel back and
writes ``reports/<run>/chaos.html`` and ``chaos.json``. Exit 0: every acknowledged
message is stored once and was delivered, and no request outlived the deadline;
1: one of those failed; 2: a usage mistake.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analysis.chaos.schedule import (
    DEFAULT_FAULT_S,
    DEFAULT_STEADY_S,
    DEFAULT_TAIL_S,
    DEFAULT_WARMUP_S,
    FAULT_KINDS,
    Fault,
    default_schedule,
    parse_fault,
    swarm_duration_s,
)
from analysis.cli.options import MetricsRedisUrlOpt, ReportsDirOpt, RunsDirOpt, duration_s
from analysis.defaults import REPORTS_DIR, RUNS_DIR
from loadtests.clients.providers.factory import TRANSPORTS
from target_service.errors import UserError
from target_service.periodic import PeriodicSampler

if TYPE_CHECKING:  # analysis.chaos.run loads the stack and pandas: not for `--help`
    from analysis.chaos.run import ChaosConfig

err = Console(stderr=True)
TABLE_WIDTH = 130  # columns of the result table when stdout is not a terminal
MAX_SPAWN_RATE = 50.0
PROGRESS_INTERVAL_S = 0.5
FAULT_HELP = (
    "KIND@START+DURATION, repeatable, e.g. valkey:pause@30s+10s (START on the swarm's clock). "
    f"Kinds: {', '.join(FAULT_KINDS)}. Default: every kind in turn."
)


def chaos(
    fault: Annotated[list[str] | None, typer.Option("--fault", help=FAULT_HELP)] = None,
    users: Annotated[int, typer.Option(min=1, max=2000, help="Simulated users")] = 40,
    workers: Annotated[int, typer.Option(min=2, max=16, help="Service uvicorn workers")] = 2,
    fault_duration: Annotated[str, typer.Option(help="Default schedule: each fault's length")] = (
        f"{DEFAULT_FAULT_S:g}s"),
    steady: Annotated[str, typer.Option(help="Default schedule: steady load between faults")] = (
        f"{DEFAULT_STEADY_S:g}s"),
    warmup: Annotated[str, typer.Option(help="Default schedule: load before the first fault")] = (
        f"{DEFAULT_WARMUP_S:g}s"),
    tail: Annotated[str, typer.Option(help="Load after the last healing")] = f"{DEFAULT_TAIL_S:g}s",
    deadline_s: Annotated[float, typer.Option(help="No request may take longer (+ slack)")] = 5.0,
    deadline_slack_s: Annotated[float, typer.Option(help="Tolerance over the deadline")] = 1.0,
    cache: Annotated[str, typer.Option(help="Service cache mode: fresh | seed")] = "fresh",
    policy: Annotated[str, typer.Option(help="Service interval policy")] = "fixed-2s",
    realtime: Annotated[str, typer.Option(
        help="The tabs' transport: polling | long-poll | sse | websocket")] = "polling",
    redis_url: Annotated[str | None, typer.Option(
        envvar="POLLCAP_REDIS_URL", help="The service's Redis (Valkey faults need the embedded one)"
    )] = None,
    database_url: Annotated[str | None, typer.Option(
        envvar="POLLCAP_DATABASE_URL", help="The service's PostgreSQL (faults need the embedded)"
    )] = None,
    metrics_redis_url: MetricsRedisUrlOpt = None,
    reports_dir: ReportsDirOpt = REPORTS_DIR,
    runs_dir: RunsDirOpt = RUNS_DIR,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: generated)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print chaos.json's verdict")] = False,
) -> None:
    """Kill, pause and restart Valkey, PostgreSQL and service workers under load; account for
    every message (acknowledged, failed, unknown -> lost, duplicated, recovered) and time
    each recovery."""
    from analysis.chaos.evaluate import Limits
    from analysis.chaos.run import ChaosConfig

    if realtime not in TRANSPORTS:
        raise UserError(f"--realtime must be one of {', '.join(TRANSPORTS)}, got {realtime!r}")
    faults = _faults(fault, warmup=warmup, fault_duration=fault_duration, steady=steady)
    cfg = ChaosConfig(
        faults=faults, users=users, spawn_rate=chaos_spawn_rate(users), workers=workers,
        cache=cache, policy=policy, realtime=realtime, tail_s=duration_s(tail, option="--tail"),
        limits=Limits(deadline_s=deadline_s, deadline_slack_s=deadline_slack_s),
        redis_url=redis_url, database_url=database_url, metrics_redis_url=metrics_redis_url,
        run_id=run_id, runs_dir=runs_dir, reports_dir=reports_dir,
        command=command_line(faults, realtime=realtime),
    )
    _run(cfg, json_out=json_out)


def _faults(
    given: list[str] | None, *, warmup: str, fault_duration: str, steady: str,
) -> list[Fault]:
    """The ``--fault`` schedule, or the default one (every kind in turn) from its options."""
    if given:
        return [parse_fault(text) for text in given]
    return default_schedule(
        warmup_s=duration_s(warmup, option="--warmup"),
        fault_s=duration_s(fault_duration, option="--fault-duration", min_s=0.1),
        steady_s=duration_s(steady, option="--steady"),
    )


def chaos_spawn_rate(users: int) -> float:
    """Half the users per second, within 1..50: everyone is in before the first fault."""
    return max(1.0, min(users / 2, MAX_SPAWN_RATE))


def command_line(faults: list[Fault], *, realtime: str) -> str:
    """The command that replays this schedule (recorded in the report)."""
    return "pollcap chaos " + " ".join(
        [f"--fault {f.label}" for f in faults] + [f"--realtime {realtime}"])


def _run(cfg: ChaosConfig, *, json_out: bool) -> None:
    """Run it under the progress bar, print the verdict; exit 1 when it failed."""
    from analysis.chaos.run import run_chaos

    with ChaosProgress(swarm_duration_s(cfg.faults, tail_s=cfg.tail_s)) as on_event:
        done = run_chaos(cfg, on_event=on_event)
    _print(done.result, json_out=json_out)
    err.print(f"report: {done.html_path}")
    if not done.passed:
        raise typer.Exit(code=1)


class ChaosProgress(PeriodicSampler):
    """A bar over the swarm's planned time (moved every 0.5 s by the sampling thread);
    fault events printed above it."""

    thread_name: ClassVar[str] = "chaos-progress"

    def __init__(self, planned_s: float) -> None:
        self.planned_s = planned_s
        self.interval_s = PROGRESS_INTERVAL_S
        self.bar = Progress(TextColumn("chaos"), BarColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[note]}"), console=err, transient=True)
        self.task = self.bar.add_task("chaos", total=planned_s, note="starting")
        self.t0: float | None = None

    def __enter__(self) -> Any:
        self.bar.start()
        self._start_sampling()
        return self.event

    def __exit__(self, *exc: object) -> None:
        self._stop_sampling()
        self.bar.stop()

    def _sample(self) -> None:
        if self.t0 is not None:
            self.bar.update(self.task, completed=min(time.time() - self.t0, self.planned_s))

    def event(self, name: str, details: dict[str, Any]) -> None:
        if name == "swarm":
            self.t0 = details["t0_ms"] / 1000
        if name in ("inject", "heal"):
            err.print(f"[dim]{name} {details['fault']}: {details['detail']}[/dim]")
        self.bar.update(self.task, note=name)


def _print(result: dict[str, Any], *, json_out: bool) -> None:
    if json_out:
        keys = ("passed", "failures", "totals", "faults", "longest_request_ms",
                "requests_over_deadline")
        typer.echo(json.dumps({k: result[k] for k in keys}, indent=2, default=str))
        return
    table = Table(title="pollcap chaos")
    for column in ("fault", "errors", "longest s", "recover s", "target s", "ok", "unknown",
                   "ack lost", "dup", "recovered"):
        table.add_column(column, justify="left" if column == "fault" else "right")
    for f in result["faults"]:
        recover = "-" if f["recover_s"] is None else f"{f['recover_s']:.0f}"
        table.add_row(f["fault"], str(f["errors"]), f"{f['longest_request_ms'] / 1000:.2f}",
                      recover, f"{f['recover_target_s']:g}", str(f["ok"]), str(f["unknown"]),
                      str(f["acknowledged_lost"]), str(f["duplicated"]), str(f["recovered"]))
    out = Console()
    if not out.is_terminal:  # logs and CI: the whole table, not 80 columns of ellipses
        out = Console(width=TABLE_WIDTH)
    out.print(table)
    verdict = "passed" if result["passed"] else "FAILED: " + "; ".join(result["failures"])
    out.print(verdict)


COMMANDS = [chaos]
