"""``pollcap usl``, ``report``, ``bench-collect`` and ``bench-report``.

Plain typer-annotated functions; ``analysis.cli.app`` registers ``COMMANDS``. User
mistakes raise ``UserError`` (one line, exit 2); ``report`` exits 1 when the
SLO fails at ``--target-users`` (like a k6 threshold).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from analysis.cli.options import (
    HeadroomOverrideOpt,
    PricePerMillionOverrideOpt,
    PricesOpt,
    RedisUrlOpt,
    ReportsDirOpt,
    SloP95OverrideOpt,
    TargetUsersOpt,
)
from analysis.defaults import REPORTS_DIR
from target_service.errors import UserError

if TYPE_CHECKING:  # pandas loads only when a command runs
    import pandas as pd


def usl(
    file: Annotated[Path, typer.Argument(help="CSV with a concurrency and a throughput column.")],
    x: Annotated[
        str | None, typer.Option("--x", help="Concurrency column (default: the first).")
    ] = None,
    y: Annotated[
        str | None, typer.Option("--y", help="Throughput column (default: the second).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap refits for 95% intervals.")] = 0,
) -> None:
    """Fit the Universal Scalability Law to any two columns; print σ, κ, λ, N*, X(N*), R²."""
    from analysis.model.usl import fit_usl

    n, throughput, x_name, y_name = _read_xy(file, x=x, y=y)
    try:
        fit = fit_usl(n, throughput, bootstrap=bootstrap)
    except ValueError as exc:
        raise UserError(f"{file}: {exc}") from exc
    typer.echo(f"USL fit of {y_name} vs {x_name} ({fit.n_points} points)")
    rows = [
        ("sigma", fit.sigma, "sigma"),
        ("kappa", fit.kappa, "kappa"),
        ("lambda", fit.lambda_, "lambda"),
    ]
    for label, value, key in rows:
        ci = fit.ci.get(key)
        interval = f"  [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else ""
        typer.echo(f"  {label:<7}{value:.6g}{interval}")
    peak = "inf (kappa = 0: no peak)" if math.isinf(fit.peak_n) else f"{fit.peak_n:.4g}"
    typer.echo(f"  {'N*':<7}{peak}")
    typer.echo(f"  {'X(N*)':<7}{fit.peak_x:.6g}")
    typer.echo(f"  {'R2':<7}{fit.r_squared:.4f}")


def report(
    run_id: Annotated[str, typer.Argument(help="Run id: the folder reports/<run-id>/.")],
    reports_dir: ReportsDirOpt = REPORTS_DIR,
    slo_p95_ms: SloP95OverrideOpt = None,
    target_users: TargetUsersOpt = None,
    headroom: HeadroomOverrideOpt = None,
    price_per_million: PricePerMillionOverrideOpt = None,
    prices: PricesOpt = None,
) -> None:
    """Rebuild reports/<run-id>/report.html and summary.json from the stored run data.

    The SLO, target, headroom and price default to the run's own (its meta.json), else
    to the project's defaults (analysis/defaults.py); give any of them to re-analyse.
    """
    from analysis.model.pricing import with_user_tables
    from analysis.report.console import print_report
    from analysis.report.render import build_report
    from analysis.runs import load_run_data, run_dir

    tables = with_user_tables(prices)
    data = load_run_data(run_id, reports_dir=reports_dir)
    files = build_report(
        data,
        out_dir=run_dir(run_id, reports_dir=reports_dir),
        slo_p95_ms=slo_p95_ms,
        target_users=target_users,
        headroom=headroom,
        price_per_million_usd=price_per_million,
        price_tables=tables,
    )
    print_report(files.analysis, console=Console())
    typer.echo(f"report: {files.html} ({files.elapsed_s:.1f} s); summary: {files.summary}")
    if files.analysis.slo_at_target is False:
        raise typer.Exit(code=1)


def bench_collect(
    n: Annotated[
        int, typer.Option(min=1, max=5_000_000, help="Samples to write and read.")
    ] = 1_000_000,
    redis_url: RedisUrlOpt = None,
) -> None:
    """Time loading N samples from a Redis sorted set into pandas (target: 1M in <= 1 s).

    Exit code 1 when the read misses the target.
    """
    from analysis.collect import bench_collect as _bench_collect

    if redis_url is not None:
        result = _bench_collect(redis_url, n=n)
    else:
        from target_service.embedded.stack import Stack

        with Stack() as info:
            result = _bench_collect(info.redis_url, n=n)
    _print_bench(result)
    if not result["ok"]:
        raise typer.Exit(code=1)


def bench_report(
    samples: Annotated[
        int, typer.Option(min=1_000, max=5_000_000, help="Poll samples in the synthetic run.")
    ] = 1_000_000,
) -> None:
    """Time building a report from a synthetic run of N samples (target: <= 10 s)."""
    import tempfile

    from analysis.report.bench import bench_report as _bench_report

    with tempfile.TemporaryDirectory(prefix="pollcap-bench-report-") as tmp:
        result = _bench_report(samples=samples, out_dir=Path(tmp))
    verdict = "within" if result["ok"] else "OVER"
    typer.echo(
        f"report from {result['samples']:,} samples: built in {result['build_s']:.2f} s "
        f"({verdict} the {result['target_s']:.0f} s target, "
        f"ratio {result['ratio_to_target']})"
    )


def _print_bench(result: dict[str, float | int | bool]) -> None:
    verdict = "within" if result["ok"] else "OVER"
    typer.echo(
        f"collect {result['samples']:,} samples: read {result['read_s']:.2f} s "
        f"({verdict} the {result['target_s']:g} s target, "
        f"ratio {result['ratio_to_target']}); write {result['write_s']:.2f} s"
    )


def _read_xy(file: Path, *, x: str | None, y: str | None) -> tuple[pd.Series, pd.Series, str, str]:
    import pandas as pd

    if not file.is_file():
        raise UserError(f"{file}: no such file")
    try:
        frame = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: not a readable CSV ({exc.__class__.__name__})") from exc
    columns = list(frame.columns)
    if len(columns) < 2 and (x is None or y is None):
        raise UserError(f"{file}: need two columns, found {len(columns)}")
    x_name, y_name = x or columns[0], y or columns[1]
    for name in (x_name, y_name):
        if name not in frame.columns:
            raise UserError(f"{file}: no column {name!r} (columns: {', '.join(map(str, columns))})")
    values = frame[[x_name, y_name]].apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        raise UserError(f"{file}: non-numeric values in {x_name!r} or {y_name!r}")
    return values[x_name], values[y_name], str(x_name), str(y_name)


COMMANDS = [usl, report, bench_collect, bench_report]
