"""Output of ``pollcap compare``: the overlay page, the JSON, and the terminal table."""

from __future__ import annotations

import io
import math
from dataclasses import asdict
from typing import Any

import jinja2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich import box
from rich.table import Table

from analysis.compare.headline import HeadlineRow
from analysis.compare.verdict import Comparison, MetricComparison
from analysis.report.figures import to_data_uri

COLORS = {"A": "#1f77b4", "B": "#d62728"}
VERDICT_STYLE = {"better": "green", "worse": "red"}



def _num(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    v = float(value)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _pct(value: Any) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:+.1f}%"


def _pval(value: Any) -> str:
    return "–" if value is None else f"{value:.2g}"


_ENV = jinja2.Environment(autoescape=True)
_ENV.filters.update(num=_num, pct=_pct, pval=_pval)
PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pollcap compare {{ a }} vs {{ b }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}.better{color:#080}
.worse{color:#b00}</style></head><body>
<h1>Run B <code>{{ b }}</code> against run A <code>{{ a }}</code></h1>
<p>Differences are B − A with bootstrap {{ "%.0f"|format(conf * 100) }}% intervals; a change
counts when the interval excludes zero{% if mw %}, Mann-Whitney p &lt; {{ alpha }} for
delivery{% endif %} and it exceeds {{ "%g"|format(min_effect) }}% (run-to-run noise).</p>
<table><tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>95% interval</th>
<th>change</th><th>p (MW)</th><th>verdict</th></tr>
{% for m in metrics %}<tr><td>{{ m.name }} ({{ m.unit }}, {{ m.better }} is better)</td>
<td>{{ m.a|num }}</td><td>{{ m.b|num }}</td><td>{{ m.diff|num }}</td>
<td>{{ m.ci_low|num }} … {{ m.ci_high|num }}</td><td>{{ m.diff_pct|pct }}</td>
<td>{{ m.p_value|pval }}</td><td class="{{ m.verdict }}">{{ m.verdict }}</td></tr>
{% endfor %}</table>
{% for n in notes %}<p><em>{{ n }}</em></p>{% endfor %}
<h2>Both runs</h2>{% for uri in figures %}<img src="{{ uri }}" alt="overlay">{% endfor %}
<h2>Matched steps</h2><table><tr><th>users</th><th>p95 A (ms)</th><th>p95 B (ms)</th>
<th>Mann-Whitney p</th></tr>{% for s in steps %}<tr><td>{{ s.users }}</td>
<td>{{ s.p95_a_ms|num }}</td><td>{{ s.p95_b_ms|num }}</td><td>{{ s.p_value|pval }}</td></tr>
{% endfor %}</table></body></html>
""")


def overlay_figures(result: Comparison) -> list[bytes]:
    """Throughput and p95 delivery against users, both runs on one axis each."""
    out = []
    for column, title, ylabel in (("requests_per_s", "Throughput", "requests/s"),
                                  ("delivery_p95_ms", "p95 delivery latency", "ms")):
        fig = Figure(figsize=(7.0, 3.6), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for label, figs in (("A", result.a), ("B", result.b)):
            t = figs.table.sort_values("users")
            ax.plot(t["users"], t[column], "o-", color=COLORS[label],
                    label=f"{label}: {figs.run_id}")
            cap = figs.capacity.value
            if cap is not None and column == "requests_per_s":
                ax.axvline(cap, color=COLORS[label], ls="--", lw=1)
        ax.set_title(title + " (dashed: SLO capacity)" * (column == "requests_per_s"), fontsize=11)
        ax.set_xlabel("active users")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png")
        out.append(buffer.getvalue())
    return out


def render_page(result: Comparison) -> str:
    from analysis.compare.verdict import ALPHA, CONFIDENCE

    return PAGE.render(a=result.a.run_id, b=result.b.run_id, metrics=result.metrics,
                       steps=result.steps, notes=result.notes, conf=CONFIDENCE, alpha=ALPHA,
                       mw=True, min_effect=result.min_effect_pct,
                       figures=[to_data_uri(p) for p in overlay_figures(result)])


def comparison_json(result: Comparison) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, float | np.floating):
            return float(value) if math.isfinite(value) else None
        return value

    return clean({"a": result.a.run_id, "b": result.b.run_id,
                  "matched_users": result.matched_users,
                  "compared_users": result.compared_users,
                  "min_effect_pct": result.min_effect_pct,
                  "metrics": [asdict(m) for m in result.metrics],
                  "steps": [asdict(s) for s in result.steps], "notes": result.notes})


def metrics_table(result: Comparison) -> Table:
    table = Table(title=f"pollcap compare: B {result.b.run_id} vs A {result.a.run_id}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("metric", "A", "B", "change", "95% interval of B−A", "verdict"):
        table.add_column(name, justify="left" if name in ("metric", "verdict") else "right")
    for m in result.metrics:
        table.add_row(f"{m.name} ({m.unit})", _num(m.a), _num(m.b), _pct(m.diff_pct),
                      f"{_num(m.ci_low)} … {_num(m.ci_high)}", _styled(m))
    return table


def headline_table(rows: list[HeadlineRow]) -> Table:
    """Every headline figure of both reports (instances: the continuous figure compared)."""
    table = Table(title="headline figures of the two reports (instances compared before "
                  "rounding up)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("figure", "A", "B", "apart"):
        table.add_column(name, justify="left" if name == "figure" else "right")
    for r in rows:
        table.add_row(r.name, r.shown_a, r.shown_b, _pct(r.apart_pct))
    return table


def _styled(m: MetricComparison) -> str:
    style = VERDICT_STYLE.get(m.verdict)
    return f"[{style}]{m.verdict}[/{style}]" if style else m.verdict
