"""Sweep figures as PNG bytes (matplotlib Agg, no pyplot state): the cost/freshness front.

Draws what :class:`analysis.sweep.run.SweepResult` holds and computes nothing new.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from analysis.report.figures import new_figure, to_png
from analysis.sweep.run import SweepResult

PRESET_MARKERS = {"fixed-2s": "s", "seed-dynamic": "^", "seed-optimal": "D"}
FIG_SIZE_IN = (7.5, 4.2)


def pareto_figure(result: SweepResult) -> bytes:
    """All policies (grey), the Pareto front (line), the presets and the pick, and the SLO."""
    fig, ax = new_figure(FIG_SIZE_IN)
    table = result.table
    ok = np.isfinite(table["delivery_p95_ms"]) & ~table["preset"]
    ax.scatter(
        table.loc[ok, "requests_per_s"],
        table.loc[ok, "delivery_p95_ms"] / 1000,
        s=4,
        color="#bbbbbb",
        label=f"policies ({int(ok.sum())})",
        rasterized=True,
    )
    front = result.front
    ax.plot(
        front["requests_per_s"],
        front["delivery_p95_ms"] / 1000,
        "-o",
        ms=3,
        color="#1f77b4",
        label="Pareto front",
    )
    _mark_presets_and_pick(ax, result)
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
    return to_png(fig)


def _mark_presets_and_pick(ax: Axes, result: SweepResult) -> None:
    """The design's presets as large markers, the pick circled in red."""
    table = result.table
    for _, row in table[table["preset"]].iterrows():
        p95_s = row["delivery_p95_ms"] / 1000 if np.isfinite(row["delivery_p95_ms"]) else np.nan
        label = row["name"] + (" (saturated)" if row["saturated"] else "")
        ax.scatter(
            [row["requests_per_s"]],
            [p95_s],
            s=60,
            zorder=3,
            marker=PRESET_MARKERS.get(row["name"], "o"),
            label=label,
        )
    if result.best is not None:
        best = table[table["name"] == result.best.name].iloc[0]
        ax.scatter(
            [best["requests_per_s"]],
            [best["delivery_p95_ms"] / 1000],
            s=160,
            facecolors="none",
            edgecolors="#d62728",
            linewidths=2,
            zorder=4,
            label="cheapest meeting SLO",
        )
