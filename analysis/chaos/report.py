"""``reports/<run>/chaos.html`` and ``chaos.json``: the timeline with fault windows shaded,
one row per fault, the accounting, and the verdict. Takes results; computes nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.report.figures import to_data_uri

FIG_SIZE_IN = (9.0, 6.5)
DPI = 100

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("chaos.html.j2")


def timeline_figure(frame: pd.DataFrame, faults: list[dict[str, Any]], *, t0_ms: float) -> bytes:
    """Requests and errors per second, p95 request and delivery latency; faults shaded."""
    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = frame["second"].to_numpy()
    top.plot(x, frame["requests"], lw=1, color="#1f77b4", label="requests/s")
    top.plot(x, frame["errors"], lw=1, color="#d62728", label="errors/s")
    top.set_ylabel("per second")
    bottom.plot(x, frame["request_p95_ms"] / 1000, lw=1, color="#7f7f7f", label="p95 request")
    bottom.plot(x, frame["delivery_p95_ms"] / 1000, lw=1, color="#ff7f0e", label="p95 delivery")
    bottom.set_ylabel("seconds")
    bottom.set_xlabel("seconds since the swarm started")
    for ax in (top, bottom):
        for f in faults:
            start = (f["injected_ms"] - t0_ms) / 1000
            end = max((f["healed_ms"] - t0_ms) / 1000, start + 0.5)
            ax.axvspan(start, end, color="#f4b6b6", alpha=0.6, lw=0)
            if f.get("recover_s") is not None:  # recovered: healing + time to recover
                heal_s = (f["healed_ms"] - t0_ms) / 1000
                ax.axvline(heal_s + f["recover_s"], color="#2ca02c", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    for f in faults:
        top.annotate(f["kind"], xy=((f["injected_ms"] - t0_ms) / 1000, 1.0),
                     xycoords=("data", "axes fraction"), fontsize=7, rotation=30,
                     va="bottom")
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(
    *, out_dir: Path, run_id: str, result: dict[str, Any], frame: pd.DataFrame,
    meta: dict[str, Any],
) -> tuple[Path, Path]:
    """Write chaos.json (result, meta, timeline) and chaos.html; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = _clean({"run_id": run_id, "meta": meta, **result,
                  "timeline": frame.to_dict(orient="list")})
    json_path = out_dir / "chaos.json"
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    figure = to_data_uri(timeline_figure(frame, result["faults"], t0_ms=result["t0_ms"]))
    html_path = out_dir / "chaos.html"
    html_path.write_text(_template().render(run_id=run_id, result=doc, meta=meta, figure=figure))
    return json_path, html_path
