"""Sweep figures as PNG bytes (matplotlib Agg, no pyplot state): the cost/freshness front.

Draws what :class:`analysis.sweep.run.SweepResult` holds and computes nothing new.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.sweep.run import SweepResult

PRESET_MARKERS = {"fixed-2s": "s", "seed-dynamic": "^", "seed-optimal": "D"}
FIG_SIZE_IN = (7.5, 4.2)
DPI = 110


def pareto_figure(result: SweepResult) -> bytes:
    """All policies (grey), the Pareto front (line), the presets and the pick, and the SLO."""
    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    table = result.table
    ok = np.isfinite(table["delivery_p95_ms"]) & ~table["preset"]
    ax.scatter(
        table.loc[ok, "request_rate_rps"],
        table.loc[ok, "delivery_p95_ms"] / 1000,
        s=4,
        color="#bbbbbb",
        label=f"policies ({int(ok.sum())})",
        rasterized=True,
    )
    front = result.front
    ax.plot(
        front["request_rate_rps"],
        front["delivery_p95_ms"] / 1000,
        "-o",
        ms=3,
        color="#1f77b4",
        label="Pareto front",
    )
    for _, row in table[table["preset"]].iterrows():
        p95_s = row["delivery_p95_ms"] / 1000 if np.isfinite(row["delivery_p95_ms"]) else np.nan
        label = row["name"] + (" (saturated)" if row["saturated"] else "")
        ax.scatter(
            [row["request_rate_rps"]],
            [p95_s],
            s=60,
            zorder=3,
            marker=PRESET_MARKERS.get(row["name"], "o"),
            label=label,
        )
    if result.best is not None:
        best = table[table["name"] == result.best.name].iloc[0]
        ax.scatter(
            [best["request_rate_rps"]],
            [best["delivery_p95_ms"] / 1000],
            s=160,
            facecolors="none",
            edgecolors="#d62728",
            linewidths=2,
            zorder=4,
            label="cheapest meeting SLO",
        )
    ax.axhline(
        result.slo_p95_ms / 1000,
        color="#2ca02c",
        ls="--",
        lw=1,
        label=f"SLO p95 {result.slo_p95_ms / 1000:g} s",
    )
    ax.set_title("Interval policies: requests/s against p95 delivery latency", fontsize=11)
    ax.set_xlabel("requests/s (mean over the run)")
    ax.set_ylabel("p95 delivery latency (s)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
