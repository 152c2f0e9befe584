"""``pollcap compare A B`` (before/after, with a CI gate) and ``pollcap history``.

Plain typer-annotated functions; ``analysis.cli.app`` registers ``COMMANDS``. User
mistakes raise ``UserError`` (one line, exit 2); ``compare --fail-on-regression PCT``
exits 1 when a metric got significantly worse by more than PCT percent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from analysis.defaults import REPORTS_DIR
from target_service.errors import UserError

if TYPE_CHECKING:
    from analysis.compare.headline import HeadlineRow


def compare(
    run_a: Annotated[str, typer.Argument(help="Run id of the baseline (before): reports/<A>/.")],
    run_b: Annotated[str, typer.Argument(help="Run id of the candidate (after): reports/<B>/.")],
    reports_dir: Annotated[Path, typer.Option(help="Where report folders live.")] = REPORTS_DIR,
    out: Annotated[Path | None, typer.Option(
        help="HTML page overlaying both runs (default: reports/compare-<A>-vs-<B>/).")] = None,
    fail_on_regression: Annotated[float | None, typer.Option(
        "--fail-on-regression", min=0, metavar="PCT",
        help="Exit 1 when a metric is significantly worse by more than PCT percent.")] = None,
    min_effect: Annotated[float, typer.Option(
        min=0, help="Smallest change in percent that counts (run-to-run noise is ~3-5%).")] = 5.0,
    draws: Annotated[int, typer.Option(min=50, max=5000, help="Bootstrap draws.")] = 200,
    slo_p95_ms: Annotated[float | None, typer.Option(
        min=1, help="p95 delivery SLO in ms (default: each run's own).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare two capacity runs: SLO capacity, requests per user, CPU per request and p95
    delivery at matched user counts, each with a bootstrap 95% interval of B − A and a
    verdict (better / worse / no significant change)."""
    from analysis.compare.headline import headline_json
    from analysis.compare.page import comparison_json, headline_table, metrics_table, render_page
    from analysis.compare.verdict import compare_runs, regressions
    from analysis.runs import load_run_data

    if run_a == run_b:
        raise UserError("compare needs two different runs")
    a = load_run_data(run_a, reports_dir=reports_dir)
    b = load_run_data(run_b, reports_dir=reports_dir)
    console = Console(stderr=json_out)
    with console.status(f"bootstrapping {draws} draws per run"):
        result = compare_runs(a, b, draws=draws, min_effect_pct=min_effect,
                              slo_p95_ms=slo_p95_ms)
    folder = out or reports_dir / f"compare-{run_a}-vs-{run_b}"
    page = folder / "compare.html" if folder.suffix != ".html" else folder
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_page(result), encoding="utf-8")
    doc = comparison_json(result)
    headline = _headline(run_a, run_b, reports_dir=reports_dir)
    if headline is not None:
        doc["headline"] = headline_json(headline)
    page.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    if json_out:
        typer.echo(json.dumps(doc, indent=2))
    else:
        console.print(metrics_table(result))
        if headline is not None:
            console.print(headline_table(headline))
        for note in result.notes:
            console.print(f"[dim]{note}[/dim]")
        console.print(f"page: {page}")
    if fail_on_regression is not None:
        worse = regressions(result, threshold_pct=fail_on_regression)
        if worse:
            names = ", ".join(f"{m.name} {m.diff_pct:+.1f}%" for m in worse)
            typer.echo(f"regression beyond {fail_on_regression:g}%: {names}", err=True)
            raise typer.Exit(code=1)


def _headline(run_a: str, run_b: str, *, reports_dir: Path) -> list[HeadlineRow] | None:
    """Both reports' headline figures side by side (None unless both have a summary.json)."""
    from analysis.compare.headline import headline_rows

    docs = []
    for run in (run_a, run_b):
        path = reports_dir / run / "summary.json"
        if not path.is_file():
            return None
        try:
            docs.append(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid JSON: {exc}") from exc
    return headline_rows(docs[0], docs[1])


def history(
    reports_dir: Annotated[Path, typer.Option(help="Where report folders live.")] = REPORTS_DIR,
    out: Annotated[Path | None, typer.Option(
        help="Trend page (default: <reports-dir>/history.html).")] = None,
) -> None:
    """List the runs in reports/ with their key figures, and write a trend plot."""
    from rich import box
    from rich.table import Table

    from analysis.compare.history import history_rows, trend_png
    from analysis.report.figures import to_data_uri

    if not reports_dir.is_dir():
        raise UserError(f"no reports folder {reports_dir}")
    rows = history_rows(reports_dir)
    if not rows:
        raise UserError(f"no run with a summary.json under {reports_dir}")
    table = Table(title=f"pollcap history: {reports_dir}", box=box.SIMPLE_HEAD,
                  title_justify="left")
    for name in ("run", "policy", "SLO capacity", "status", "req/s per user", "best req/s",
                 "max users"):
        table.add_column(name, justify="left" if name in ("run", "policy", "status") else "right")
    for r in rows:
        table.add_row(r.run_id, r.policy, _n(r.slo_capacity_users), r.capacity_status,
                      _n(r.requests_per_user_s, 3), _n(r.max_requests_per_s), _n(r.max_users))
    Console().print(table)
    page = out or reports_dir / "history.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>pollcap history"
                    f"</title></head><body><h1>pollcap history</h1><img src='"
                    f"{to_data_uri(trend_png(rows))}' alt='trend'></body></html>",
                    encoding="utf-8")
    typer.echo(f"trend: {page}")


def _n(value: float | int | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


COMMANDS = [compare, history]
