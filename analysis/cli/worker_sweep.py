"""``pollcap capacity --workers N --sweep-workers``: the worker sweep's runs, table and file.

Each worker count is a whole capacity run (its own report folder, as a single run's);
the sweep's own figures go to ``<reports>/sweep-workers-<first run id>.json`` and a table
on the terminal. The maths and the core planning are in :mod:`analysis.capacity.workers`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from analysis.capacity.workers import (
    SweepPoint,
    WorkerPoint,
    WorkerSweep,
    point_config,
    run_worker_sweep,
)

if TYPE_CHECKING:
    from analysis.capacity.run import CapacityConfig, CapacityRun
    from analysis.model.pricing import PriceTable


def sweep_workers(
    cfg: CapacityConfig,
    *,
    run: Callable[[CapacityConfig], CapacityRun],
    reports_dir: Path,
    price_tables: list[PriceTable],
) -> WorkerSweep:
    """Run the sweep 1..cfg.workers with ``run`` (the CLI's progress-bar runner), report it."""
    from analysis.capacity.setup import capacity_setup
    from analysis.report.render import build_report
    from analysis.runs import run_dir, save_run_data
    from loadtests.recording.keys import new_run_id

    console = Console()

    def measure(point: SweepPoint) -> WorkerPoint:
        point_cfg = point_config(cfg, point, run_id=new_run_id())
        console.print(f"[bold]worker sweep[/]: {point.workers} of {cfg.workers} worker(s)")
        result = run(point_cfg)
        save_run_data(result.data, reports_dir=reports_dir)
        files = build_report(result.data, price_tables=price_tables,
                             out_dir=run_dir(result.data.run_id, reports_dir=reports_dir))
        rps = files.analysis.table["requests_per_s"]
        return WorkerPoint(workers=point.workers,
                           peak_requests_per_s=float(rps.max()) if len(rps) else 0.0,
                           slo_users=files.analysis.capacity.users,
                           cores_shared=capacity_setup(point_cfg).cores_shared,
                           setup=capacity_setup(point_cfg).description,
                           run_id=result.data.run_id)

    sweep = run_worker_sweep(max_workers=cfg.workers, machine_cpus=sorted(os.sched_getaffinity(0)),
                             measure=measure)
    out = reports_dir / f"sweep-workers-{sweep.points[0].run_id}.json"
    reports_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sweep.to_json(), indent=2, allow_nan=False))
    print_sweep(sweep, console=console)
    console.print(f"sweep:   {out}")
    return sweep


def print_sweep(sweep: WorkerSweep, *, console: Console) -> None:
    """Workers, peak requests/s, speedup over 1 worker, SLO users, shared cores; the notes."""
    table = Table(title="capacity over uvicorn workers")
    for column in ("workers", "peak req/s", "x 1 worker", "SLO users", "cores", "run"):
        table.add_column(column)
    for point, speedup in zip(sweep.points, sweep.speedups(), strict=True):
        table.add_row(str(point.workers), f"{point.peak_requests_per_s:.0f}",
                      "-" if speedup is None else f"{speedup:.2f}",
                      "-" if point.slo_users is None else f"{point.slo_users:.0f}",
                      "shared with the generator" if point.cores_shared else "own",
                      point.run_id)
    console.print(table)
    if sweep.shared_note:
        console.print(f"[yellow]note:[/] {sweep.shared_note}", markup=True)
    console.print(f"USL:     {sweep.fit_note}")
