"""Terminal views: the capacity report's steps and headline, and the sweep's verification."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from analysis.report.render import Analysis, interval_text

if TYPE_CHECKING:
    from typing import Any

SHORT_CAUSE = {"at floor": "floor", "below floor": "below", "cache staleness": "cache",
               "unexplained": "?"}


def steps_table(result: Analysis) -> Table:
    """Per-step table; delivery p95 over the SLO in red."""
    slo_ms = result.capacity.slo_p95_ms
    table = Table(title=f"pollcap capacity: {result.run_id}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("users", "req/s", "req p95", "dlv p50", "dlv p95", "err", "lost/dup", "CPU",
                 "cause"):
        table.add_column(name, justify="left" if name == "cause" else "right",
                         no_wrap=True)
    table.caption = "latencies in ms; dlv = delivery; CPU in % (100 = one core)"
    causes = {c.users: SHORT_CAUSE.get(c.cause, c.cause) for c in result.causes}
    for row in result.table.to_dict("records"):
        p95 = row["delivery_p95_ms"]
        p95_text = _fmt(p95)
        if math.isfinite(p95) and p95 > slo_ms:
            p95_text = f"[red]{p95_text}[/red]"
        table.add_row(
            str(row["users"]), _fmt(row["requests_per_s"], 1), _fmt(row["req_p95_ms"]),
            _fmt(row["delivery_p50_ms"]), p95_text, _pct(row["error_rate"]),
            f"{_fmt(row['lost'])}/{_fmt(row['duplicated'])}", _fmt(row["cpu_percent"]),
            causes.get(int(row["users"]), ""),
        )
    return table


def headline(result: Analysis) -> list[str]:
    """The lines under the table: SLO capacity, USL, validation, plan, causes."""
    cap = result.capacity
    lines = [f"SLO (p95 delivery <= {cap.slo_p95_ms:.0f} ms, errors <= {cap.max_error_rate:.0%}): "
             f"{cap.message}"]
    if result.slo_at_target is not None:
        colour = "green" if result.slo_at_target else "red"
        lines.append(f"[{colour}]{result.slo_note}[/{colour}]")
    fit, found = result.fit, result.findings
    if fit is not None and found is not None and found.peak is not None:
        n, x = found.peak.peak_users, found.peak.peak_requests_per_s
        lines.append(f"USL: σ={fit.sigma:.4g} κ={fit.kappa:.4g} λ={fit.lambda_:.4g} "
                     f"R²={fit.r_squared:.3f}; {x.label} {_fmt(x.value)}"
                     f"{_within(x.interval)}, {n.label} {_fmt(n.value)}{_within(n.interval)}")
    elif fit is not None:
        lines.append(f"USL: σ={fit.sigma:.4g} κ={fit.kappa:.4g} λ={fit.lambda_:.4g} "
                     f"N*={_fmt(fit.peak_n)} X(N*)={_fmt(fit.peak_x)} R²={fit.r_squared:.3f}")
    else:
        lines.append(result.fit_note)
    if found is not None:
        lines.append(f"CPU bound: {found.bound.note}")
        if found.saturated_users:
            lower = " (SLO capacity is a lower bound)" if found.capacity_lower_bound else ""
            lines.append(f"[red]load generator saturated at {_users(found.saturated_users)} "
                         f"users{lower}[/red]")
        knee = found.knee
        if knee.users is not None:
            lines.append(f"knee: {knee.reason}; next: {knee.users} users ({knee.phase}); "
                         f"measure it with `pollcap capacity {found.knee_hint}`")
        else:
            lines.append(f"knee: {knee.reason}")
        costs = [f"{c.table} ${_fmt(c.per_1000_users_month_usd, 2)}" for c in found.costs]
        lines.append("cost per 1,000 users per month: " + ", ".join(costs))
    if result.validation is not None:
        lines.append(f"USL validation: fit on {result.validation.train_points} steps, "
                     f"{result.validation.mean_abs_error_pct:.1f}% mean error on the other "
                     f"{result.validation.test_points}")
    for row in result.plan.rows:
        worth = "" if row.instances_exact is None else f"{row.instances_exact:.1f} → "
        lines.append(f"{row.target_users:>9,} users: {worth}{_fmt(row.instances)} instance(s), "
                     f"{row.requests_per_s:,.0f} req/s, ${row.cost_per_month_usd:,.0f}/month; "
                     f"limit: {row.limit}")
    lines.append(result.causes_summary)
    return lines


def push_table(result: Analysis) -> Table | None:
    """Per-step push figures (``--realtime`` long-poll, sse or websocket), else None."""
    push = result.push
    if push is None:
        return None
    table = Table(title=f"push ({push.transport}): service memory per connection "
                  f"{_fmt(push.rss_kib_per_connection, 1)} KiB (RSS slope)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("users", "conns", "RSS MiB", "dlv/s", "CPU ms/msg", "CPU us/conn/s",
                 "fan-out lag", "catch-ups/s", "resume closes", "cause"):
        table.add_column(name, justify="left" if name == "cause" else "right", no_wrap=True)
    table.caption = "from the service's /metrics; fan-out lag = commit to hand-off, in ms"
    for row, cause in zip(push.table.to_dict("records"), push.causes, strict=True):
        table.add_row(str(row["users"]), _fmt(row["connections"]), _fmt(row["rss_mib"], 1),
                      _fmt(row["delivered_per_s"], 1), _fmt(row["cpu_ms_per_message"], 3),
                      _fmt(row["cpu_us_per_connection_s"], 1), _fmt(row["fanout_lag_ms"], 1),
                      _fmt(row["catchups_per_s"], 2), _fmt(row["resume_closes"]), cause.cause)
    return table


def print_report(result: Analysis, *, console: Console | None = None) -> None:
    console = console or Console()
    console.print(steps_table(result))
    push = push_table(result)
    if push is not None:
        console.print(push)
    for line in headline(result):
        console.print(line)
    if result.push is not None:
        console.print(result.push.summary)


def _within(interval: tuple[float, float] | None) -> str:
    return f" ({interval_text(interval)})" if interval else ""


def _fmt(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.1%}"


def print_verification(console: Console, rows: list[dict[str, Any]]) -> None:
    """Predicted (from the recorded run) vs measured; 'replay' = model on the swarm's inputs."""
    table = Table(title="Predicted vs measured (live swarm)", title_justify="left")
    columns = (
        "policy",
        "users",
        "poll/s pred",
        "poll/s meas",
        "err %",
        "p95 pred ms",
        "p95 meas ms",
        "err %",
        "ok",
        "replay err % (rate, p95)",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in rows:
        table.add_row(
            r["policy"],
            str(r["users"]),
            f"{r['predicted_polls_per_s']:.1f}",
            f"{r['measured_polls_per_s']:.1f}",
            f"{r['rate_error_pct']:+.1f}",
            f"{r['predicted_p95_ms']:.0f}",
            f"{r['measured_p95_ms']:.0f}",
            f"{r['p95_error_pct']:+.1f}",
            "yes" if r["within_target"] else "no",
            f"{r.get('replay_rate_error_pct', float('nan')):+.1f}, "
            f"{r.get('replay_p95_error_pct', float('nan')):+.1f}",
        )
    console.print(table)


def _users(users: list[int]) -> str:
    return ", ".join(str(u) for u in users)
