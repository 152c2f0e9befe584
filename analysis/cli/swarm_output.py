"""What the swarm commands show on stderr: the live progress bar and the summary table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # loadtests.swarm.run loads pandas; `pollcap --help` should not wait for it
    from loadtests.swarm.run import SwarmProgress

err = Console(stderr=True)
SUMMARY_KEYS = ("users", "requests", "rps", "poll_rps", "messages_sent", "messages_delivered",
                "lost", "duplicated", "reordered", "errors", "poll_late_ms_mean")
LATENCY_KEYS = ("poll_latency_ms", "delivery_latency_ms", "notification_latency_ms")
PUSH_KEYS = ("connections_peak", "connects", "reconnects", "forced_drops")


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


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"swarm {summary['run_id']}", show_header=False)
    for key in SUMMARY_KEYS:
        table.add_row(key, str(summary.get(key)))
    for key in LATENCY_KEYS:
        table.add_row(key, _percentiles(summary.get(key)))
    if summary.get("realtime", "polling") != "polling" or summary.get("reconnects"):
        table.add_row("realtime", str(summary.get("realtime")))
        for key in PUSH_KEYS:
            table.add_row(key, str(summary.get(key)))
        table.add_row("messages_resumed", str(summary.get("messages_resumed")))
        table.add_row("reconnect_ms", _percentiles(summary.get("reconnect_ms")))
    _service_rows(table, summary.get("service") or {})
    for problem in summary.get("problems") or []:
        table.add_row("[red]problem[/red]", problem)
    return table


def _percentiles(pct: dict[str, Any] | None) -> str:
    return "  ".join(f"{k} {v}" for k, v in (pct or {}).items())


def _service_rows(table: Table, service: dict[str, Any]) -> None:
    """The service's CPU and memory (``ServiceWatch.figures``), or why they are missing."""
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
