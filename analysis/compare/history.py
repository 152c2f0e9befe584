"""``pollcap history``: the runs in reports/ with their key figures, and a trend plot.

Reads each ``reports/<run-id>/summary.json`` the report wrote (nothing is recomputed,
so the figures are the ones each report showed); folders without one are skipped.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


@dataclass(frozen=True, slots=True)
class HistoryRow:
    run_id: str
    started_at_ms: float | None
    policy: str
    slo_capacity_users: float | None
    capacity_status: str
    requests_per_user_s: float | None
    max_requests_per_s: float | None
    max_users: int | None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def history_rows(reports_dir: Path) -> list[HistoryRow]:
    """One row per readable ``summary.json``, oldest first (unknown start times last)."""
    rows = []
    for path in sorted(reports_dir.glob("*/summary.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        inputs, cap = doc.get("inputs", {}), doc.get("slo_capacity") or {}
        steps = doc.get("steps") or []
        rates = (doc.get("plan") or {}).get("rates") or {}
        rps = [_float(s.get("requests_per_s")) for s in steps]
        rows.append(HistoryRow(
            run_id=str(doc.get("run_id", path.parent.name)),
            started_at_ms=_float(inputs.get("started_at_ms")),
            policy=str(inputs.get("service_policy", inputs.get("policy", "?"))),
            slo_capacity_users=_float(cap.get("users")),
            capacity_status=str(cap.get("status", "?")),
            requests_per_user_s=_float(rates.get("requests_per_s")),
            max_requests_per_s=max((r for r in rps if r is not None), default=None),
            max_users=max((int(s["users"]) for s in steps if "users" in s), default=None)))
    return sorted(rows, key=lambda r: (r.started_at_ms is None, r.started_at_ms or 0, r.run_id))


def trend_png(rows: list[HistoryRow]) -> bytes:
    """SLO capacity (and the best throughput) per run, in run order."""
    fig = Figure(figsize=(7.0, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(rows)))
    caps = [r.slo_capacity_users if r.slo_capacity_users is not None else math.nan for r in rows]
    ax.plot(x, caps, "o-", color="#1f77b4", label="SLO capacity (users)")
    lower = [i for i, r in enumerate(rows) if r.capacity_status == "never_exceeded"]
    if lower:
        ax.plot(lower, [caps[i] for i in lower], "^", color="#ff7f0e", ms=9,
                label="lower bound (SLO never broke)")
    twin = ax.twinx()
    best = [r.max_requests_per_s if r.max_requests_per_s is not None else math.nan for r in rows]
    twin.plot(x, best, "s--", color="#7f7f7f", label="best requests/s")
    ax.set_xticks(x, [r.run_id[-12:] for r in rows], rotation=30, fontsize=7)
    ax.set_ylabel("users")
    twin.set_ylabel("requests/s")
    ax.set_title("Runs in order", fontsize=11)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    more_h, more_l = twin.get_legend_handles_labels()
    ax.legend(handles + more_h, labels + more_l, fontsize=8, loc="best")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
