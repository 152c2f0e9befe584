"""Report figures as PNG bytes (matplotlib Agg, no pyplot global state).

Each function takes results (a step table, a USL fit) and draws; none
computes anything a reader could not find in the tables beside the figure.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.model.usl import UslFit

FIG_SIZE_IN = (7.0, 3.6)
DPI = 110
COLORS = {"data": "#1f77b4", "model": "#d62728", "band": "#f4b6b6", "slo": "#2ca02c",
          "p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#9467bd", "req": "#7f7f7f"}


def to_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for inlining in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def throughput_figure(table: pd.DataFrame, fit: UslFit | None, *,
                      slo_users: float | None = None) -> bytes:
    """Measured requests/s per step, the USL curve and its bootstrap band, SLO capacity."""
    fig, ax = new_figure()
    if slo_users is not None:
        ax.axvline(slo_users, color=COLORS["slo"], ls="--", lw=1,
                   label=f"SLO capacity {slo_users:,.0f} users")
    users = table["users"].to_numpy(dtype=np.float64)
    if fit is not None and len(users):
        top = max(users.max() * 1.3, min(fit.peak_n * 1.2, users.max() * 3.0))
        grid = np.linspace(1.0, top, 200)
        lo, hi = fit.band(grid)
        ax.fill_between(grid, lo, hi, color=COLORS["band"], alpha=0.6,
                        label=f"{fit.confidence:.0%} bootstrap band")
        ax.plot(grid, fit.predict(grid), color=COLORS["model"],
                label=f"USL σ={fit.sigma:.3g} κ={fit.kappa:.3g} λ={fit.lambda_:.3g}")
        if math.isfinite(fit.peak_n) and fit.peak_n <= top:
            ax.axvline(fit.peak_n, color=COLORS["model"], ls=":", lw=1)
            ax.annotate(f"N*≈{fit.peak_n:.0f}", (fit.peak_n, fit.peak_x),
                        textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.plot(users, table["requests_per_s"], "o", color=COLORS["data"], label="measured")
    _finish(ax, title="Throughput vs users", ylabel="requests/s")
    return to_png(fig)


def latency_figure(table: pd.DataFrame, *, slo_p95_ms: float) -> bytes:
    """Delivery p50/p95/p99 and request p95 per step, with the SLO line (log scale)."""
    fig, ax = new_figure()
    users = table["users"]
    for q in (50, 95, 99):
        ax.plot(users, table[f"delivery_p{q}_ms"], "o-", color=COLORS[f"p{q}"],
                label=f"delivery p{q}")
    ax.plot(users, table["req_p95_ms"], "s--", color=COLORS["req"], label="request p95")
    ax.axhline(slo_p95_ms, color=COLORS["slo"], ls="--", label=f"SLO p95 {slo_p95_ms:.0f} ms")
    if _positive(table, ["delivery_p50_ms", "req_p95_ms"]):
        ax.set_yscale("log")
    _finish(ax, title="Latency vs users", ylabel="ms")
    return to_png(fig)


def errors_figure(table: pd.DataFrame) -> bytes:
    """Error rate (%) per step, with lost and duplicated messages on a second axis."""
    fig, ax = new_figure()
    ax.plot(table["users"], table["error_rate"] * 100.0, "o-", color=COLORS["model"],
            label="error rate %")
    ax.axhline(1.0, color=COLORS["slo"], ls="--", label="1% limit")
    twin = ax.twinx()
    width = max(float(table["users"].diff().median() or 1.0) * 0.15, 1.0) if len(table) > 1 else 1.0
    twin.bar(table["users"] - width / 2, table["lost"].fillna(0), width=width, alpha=0.4,
             color=COLORS["p95"], label="lost")
    twin.bar(table["users"] + width / 2, table["duplicated"].fillna(0), width=width, alpha=0.4,
             color=COLORS["p99"], label="duplicated")
    twin.set_ylabel("messages")
    top = np.nanmax(table[["lost", "duplicated"]].to_numpy(dtype=np.float64), initial=0.0)
    twin.set_ylim(0, max(1.0, float(top) * 1.2))
    _finish(ax, title="Errors and message integrity vs users", ylabel="% of requests", twin=twin)
    return to_png(fig)


def resources_figure(table: pd.DataFrame) -> bytes:
    """Service CPU (100% = one core) and peak RSS per step."""
    fig, ax = new_figure()
    ax.plot(table["users"], table["cpu_percent"], "o-", color=COLORS["data"], label="CPU %")
    twin = ax.twinx()
    twin.plot(table["users"], table["rss_mb"], "s--", color=COLORS["req"], label="RSS MB")
    twin.set_ylabel("MB")
    _finish(ax, title="Service CPU and memory vs users", ylabel="CPU % (100 = 1 core)", twin=twin)
    return to_png(fig)


def new_figure(size_in: tuple[float, float] = FIG_SIZE_IN) -> tuple[Figure, Axes]:
    """A figure with one axes on an Agg canvas (no pyplot state); the report's and sweep's."""
    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _finish(ax: Axes, *, title: str, ylabel: str, twin: Axes | None = None) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("active users")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:
        more_h, more_l = twin.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="best")


def _positive(table: pd.DataFrame, columns: list[str]) -> bool:
    values = table[columns].to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool((finite > 0).all())


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, laid out tight."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
