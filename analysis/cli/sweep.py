"""``pollcap sweep`` and ``pollcap bench-sweep``: tune interval thresholds on a recorded run.

Thin: parse options, call :mod:`analysis.sweep.run` (maths), :mod:`analysis.sweep.outputs`
(files) and print tables. User mistakes raise :class:`UserError` (one line, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from analysis.cli.options import (
    CacheOpt,
    DatabaseUrlOpt,
    RedisUrlOpt,
    ReportsDirOpt,
    SloP95Opt,
    TargetOpt,
    check_cache_mode,
    check_own_service,
    duration_s,
)
from analysis.defaults import PLAN_DEFAULTS, REPORTS_DIR
from analysis.sweep.grid import DEFAULT_GRID, GridError, expand_grid, load_grid
from target_service.errors import UserError

if TYPE_CHECKING:  # numpy/pandas/matplotlib load only when a command runs
    import pandas as pd

    from analysis.sweep.recorded import RecordedRun
    from analysis.sweep.run import SweepResult
    from target_service.policy import ThresholdPolicy

MAX_FRONT_ROWS = 20


def sweep(
    run: Annotated[
        str | None, typer.Option(help="Run id under --reports-dir (from `pollcap capacity`).")
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(
            help="Grid JSON (see analysis/sweep/grid.py); default: ~6k policies around the presets."
        ),
    ] = None,
    slo_p95_ms: SloP95Opt = PLAN_DEFAULTS.slo_p95_ms,
    top: Annotated[
        int, typer.Option(min=1, help="Policies to list / verify (cheapest meeting the SLO).")
    ] = 3,
    verify: Annotated[
        bool, typer.Option(help="Run live swarms for the top K and compare with predictions.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also write the chosen policy JSON here.")
    ] = None,
    reports_dir: ReportsDirOpt = REPORTS_DIR,
    capacity_rps: Annotated[
        float | None, typer.Option(help="Service capacity (requests/s) instead of the USL peak.")
    ] = None,
    step: Annotated[
        list[int] | None, typer.Option(help="Only these steps of the run (0-based; repeatable).")
    ] = None,
    synthetic: Annotated[
        bool, typer.Option(help="Use a seeded synthetic run instead of --run (demo).")
    ] = False,
    verify_users: Annotated[
        int | None,
        typer.Option(help="Users of each verify swarm (default: the run's largest selected step)."),
    ] = None,
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    verify_duration: Annotated[
        str, typer.Option(help="Length of each verify swarm: 60s, 2m.")
    ] = "60s",
    host: Annotated[
        str | None,
        typer.Option(help="--verify against this service (users apply each policy themselves)."),
    ] = None,
    target: TargetOpt = None,
    allow_remote: Annotated[bool, typer.Option(help="Allow a non-loopback --host.")] = False,
) -> None:
    """Evaluate a grid of interval policies on a recorded run; print the front; write the pick.

    Writes <reports-dir>/<run-id>/sweep/ (results.csv, front.csv, summary.json,
    pareto.png, policy.json); exit code 1 when no policy meets the SLO.
    """
    verify_s, target_path = _check_options(
        run=run, synthetic=synthetic, verify=verify, verify_duration=verify_duration,
        host=host, target=target, allow_remote=allow_remote)
    policies = _policies(grid)
    recorded = _recorded(run, reports_dir=reports_dir, capacity_rps=capacity_rps, steps=step)
    console = Console()
    out_dir = reports_dir / recorded.run_id / "sweep"
    result = _sweep_and_show(console, recorded, policies, slo_p95_ms=slo_p95_ms, top=top,
                             out_dir=out_dir, policy_out=out)
    if verify:
        _verify(console, recorded, result, top=top, users=verify_users, duration_s=verify_s,
                redis_url=redis_url, database_url=database_url, out_dir=out_dir,
                host=host, target=target_path)
    if result.best is None:
        raise typer.Exit(1)


def _check_options(
    *, run: str | None, synthetic: bool, verify: bool, verify_duration: str,
    host: str | None, target: Path | None, allow_remote: bool,
) -> tuple[float, str]:
    """The option combinations, refused before any work: (verify duration s, target path)."""
    if (run is None) == (not synthetic):
        raise UserError("give exactly one of --run <run-id> or --synthetic")
    if verify and synthetic:
        raise UserError("--verify needs a recorded run (--run): a synthetic run has no scenario")
    verify_s = duration_s(verify_duration, option="--verify-duration", min_s=1)
    if (host is not None or target is not None) and not verify:
        raise UserError("--host and --target are for --verify (the live swarms)")
    target_path = check_own_service(target=target, host=host, allow_remote=allow_remote,
                                    service_pid=None) if verify else ""
    return verify_s, target_path


def _sweep_and_show(
    console: Console, recorded: RecordedRun, policies: list[ThresholdPolicy], *,
    slo_p95_ms: float, top: int, out_dir: Path, policy_out: Path | None,
) -> SweepResult:
    """Evaluate every policy, write ``sweep/`` and print the tables and the files."""
    from analysis.sweep.outputs import write_sweep
    from analysis.sweep.run import run_sweep

    result = run_sweep(recorded, policies, slo_p95_ms=slo_p95_ms)
    paths = write_sweep(result, out_dir=out_dir, policy_out=policy_out)
    console.print(_run_line(recorded))
    _print_result(console, result, top=top)
    for kind, path in paths.items():
        console.print(f"{kind:>10}: {path}")
    if result.best is None:
        console.print(f"[red]no policy meets p95 <= {slo_p95_ms:g} ms without saturating[/red]")
    return result


def _run_line(recorded: RecordedRun) -> str:
    return (
        f"run {recorded.run_id}: {recorded.window_start_ms.size} step(s), "
        f"users {recorded.channel_users.sum(axis=1).astype(int).tolist()}, "
        f"{recorded.message_channel.size} messages, cache {recorded.cache_mode}; capacity "
        f"{recorded.response.capacity_rps:.0f} req/s "
        f"({recorded.meta.get('capacity_source', 'synthetic')})"
    )


def _verify(
    console: Console,
    recorded: RecordedRun,
    result: SweepResult,
    *,
    top: int,
    users: int | None,
    duration_s: float,
    redis_url: str | None,
    database_url: str | None,
    out_dir: Path,
    host: str | None = None,
    target: str = "",
) -> None:
    """Live swarms for the top policies; the table, and ``sweep/verify.json``."""
    from analysis.report.console import print_verification
    from analysis.sweep.verify import verify_policies

    chosen = result.top(top)
    if not chosen:
        raise UserError("--verify: no policy meets the SLO, nothing to verify")
    rows = verify_policies(recorded, chosen, users=users, duration_s=duration_s,
                           redis_url=redis_url, database_url=database_url, host=host,
                           target=target)
    print_verification(console, rows)
    (out_dir / "verify.json").write_text(json.dumps(rows, indent=2) + "\n")


def bench_sweep(
    n_policies: Annotated[int, typer.Option(min=1, help="Policies in the grid.")] = 10_000,
    n_events: Annotated[
        int, typer.Option(min=1, help="Message events in the synthetic run.")
    ] = 1_000_000,
    target_s: Annotated[float, typer.Option(help="Time budget (s).")] = 30.0,
    cache: CacheOpt = "fresh",
    n_channels: Annotated[int, typer.Option(min=1, help="Channels of the synthetic run.")] = 400,
) -> None:
    """Time a sweep of N policies over M message events against the 30 s target.

    --cache fresh evaluates in closed form; seed simulates the cache per channel-state.
    """
    check_cache_mode(cache)
    from analysis.sweep.run import bench_sweep as _bench

    figures = _bench(
        n_policies=n_policies, n_events=n_events, cache_mode=cache, n_channels=n_channels
    )
    figures["target_s"] = target_s
    figures["ratio_to_target"] = figures["elapsed_s"] / target_s
    typer.echo(json.dumps({k: round(v, 3) for k, v in figures.items()}, indent=2))
    if figures["elapsed_s"] > target_s:
        raise typer.Exit(1)


def _policies(grid: Path | None) -> list[ThresholdPolicy]:
    try:
        return load_grid(grid) if grid is not None else expand_grid(DEFAULT_GRID)
    except GridError as exc:
        raise UserError(str(exc)) from None


def _recorded(
    run: str | None, *, reports_dir: Path, capacity_rps: float | None, steps: list[int] | None
) -> RecordedRun:
    if run is None:
        from analysis.synthetic import synthetic_run

        return synthetic_run(capacity_rps=capacity_rps)
    from analysis.sweep.from_report import load_recorded_run

    return load_recorded_run(
        run, reports_dir=reports_dir, capacity_rps=capacity_rps, steps=steps or None
    )


def _print_result(console: Console, result: SweepResult, *, top: int) -> None:
    table = result.table
    front = result.front
    if len(front) > MAX_FRONT_ROWS:
        keep = sorted(
            {round(i * (len(front) - 1) / (MAX_FRONT_ROWS - 1)) for i in range(MAX_FRONT_ROWS)}
        )
        front = front.iloc[keep]
    console.print(
        _policy_table(
            front,
            title=f"Pareto front ({int(table['pareto'].sum())} of {len(table)} policies;"
            f" {len(front)} shown)",
        )
    )
    console.print(_policy_table(table[table["preset"]], title="Presets (baseline)"))
    top_rows = table[table["name"].isin([p.name for p in result.top(top)])]
    console.print(
        _policy_table(
            top_rows.sort_values("cost_per_month_usd"),
            title=f"Cheapest meeting p95 <= {result.slo_p95_ms:g} ms",
        )
    )


def _policy_table(frame: pd.DataFrame, *, title: str) -> Table:
    out = Table(title=title, title_justify="left")
    for col in ("policy", "req/s", "peak load", "p50 s", "p95 s", "p99 s", "$/month", "SLO"):
        out.add_column(col, justify="left" if col == "policy" else "right")
    for _, r in frame.iterrows():
        out.add_row(
            str(r["name"]),
            f"{r['requests_per_s']:.1f}",
            f"{r['peak_load']:.2f}",
            *(
                f"{r[c] / 1000:.2f}"
                for c in ("delivery_p50_ms", "delivery_p95_ms", "delivery_p99_ms")
            ),
            f"{r['cost_per_month_usd']:.2f}",
            "yes" if r["meets_slo"] else "no",
        )
    return out


COMMANDS = [sweep, bench_sweep]
