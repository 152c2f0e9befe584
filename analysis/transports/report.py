"""The break-even report of ``pollcap transports``: ``transports.json`` and ``transports.html``.

The tables are :class:`~analysis.transports.units.TransportUnits` per transport; the
chart draws, per push transport, the break-even polling interval ``T*(m)`` over the
message rate per user (:mod:`analysis.model.breakeven`) under both CPU splits, and
for WebSocket the serverless one (Lambda + HTTP API against API Gateway WebSocket).
Polling is the cheaper choice above a curve. Everything is computed from the runs'
measured unit costs; nothing here is measured again.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from analysis.model.breakeven import (
    PollingUnits,
    PushUnits,
    breakeven_interval_s,
    region_in_words,
    serverless_breakeven_interval_s,
)
from analysis.model.pricing import PriceTable
from analysis.report.figures import new_figure, to_data_uri, to_png
from analysis.runs import jsonable
from analysis.transports.run import TransportRun
from analysis.transports.units import TransportUnits

RATES_PER_USER_MIN = np.logspace(-2, 2, 41)  # 0.01 .. 100 messages per minute per user


def polling_units(units: TransportUnits, *, interval_s: float) -> PollingUnits | None:
    """Polling's unit costs; D from the CPU bound, else CPU per user over requests per user."""
    demand = units.core_s_per_request
    if demand is None and units.cores_per_user and units.requests_per_user_s > 0:
        demand = units.cores_per_user / units.requests_per_user_s
    if demand is None or not units.requests_per_user_s:
        return None
    return PollingUnits(core_s_per_request=demand,
                        requests_per_interval=units.requests_per_user_s * interval_s,
                        interval_s=interval_s, response_ms=units.response_ms)


def push_units(units: TransportUnits) -> PushUnits | None:
    if not units.cores_per_user:
        return None
    return PushUnits(transport=units.transport, cores_per_user=units.cores_per_user,
                     deliveries_per_user_min=units.deliveries_per_user_min)


def breakeven_doc(runs: list[TransportRun], *, interval_s: float, tables: list[PriceTable],
                  sends_per_user_s: float) -> dict[str, Any]:
    """The curves and the words, JSON-ready (also what the chart draws)."""
    by = {r.transport: r.units for r in runs}
    polling = polling_units(by["polling"], interval_s=interval_s) if "polling" in by else None
    out: dict[str, Any] = {"rates_per_user_min": RATES_PER_USER_MIN.tolist(), "curves": [],
                           "words": [], "polling": None if polling is None else asdict(polling)}
    if polling is None:
        out["words"].append("No polling unit costs (no CPU measured): no break-even.")
        return out
    for units in (u for t, u in by.items() if t != "polling"):
        push = push_units(units)
        if push is None:
            out["words"].append(f"{units.transport}: no CPU per user measured.")
            continue
        for split in ("per_connection", "per_message"):
            curve = breakeven_interval_s(polling, push, messages_per_user_min=RATES_PER_USER_MIN,
                                         split=split)
            out["curves"].append({"transport": units.transport, "basis": f"CPU, {split}",
                                  "interval_s": curve.tolist()})
        out["words"].append(region_in_words(polling, push))
    http = next((t for t in tables if t.model == "lambda_http"), None)
    ws = next((t for t in tables if t.model == "apigw_websocket"), None)
    if http and ws and math.isfinite(polling.response_ms):
        usd = [serverless_breakeven_interval_s(polling, http=http, websocket=ws,
                                                 messages_per_user_min=float(m),
                                                 sends_per_user_s=sends_per_user_s)
                 for m in RATES_PER_USER_MIN]
        out["curves"].append({"transport": "websocket", "basis": f"USD, {http.name} vs "
                              f"{ws.name}", "interval_s": usd})
    return out


def breakeven_figure(doc: dict[str, Any]) -> bytes:
    fig, ax = new_figure((7.0, 4.2))
    rates = np.asarray(doc["rates_per_user_min"])
    styles = {"CPU, per_connection": "--", "CPU, per_message": "-"}
    for curve in doc["curves"]:
        y = np.asarray(curve["interval_s"], dtype=float)
        if not np.isfinite(y).any():
            continue
        ax.plot(rates, y, styles.get(curve["basis"], ":"),
                label=f"{curve['transport']} ({curve['basis']})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("messages received per user per minute")
    ax.set_ylabel("polling interval T (s)")
    ax.set_title("Break-even: polling is cheaper above a curve")
    ax.grid(True, which="both", alpha=0.3)
    if doc["curves"]:
        ax.legend(fontsize=7)
    return to_png(fig)


def write_transports_report(runs: list[TransportRun], *, out_dir: Path, interval_s: float,
                            tables: list[PriceTable], sends_per_user_s: float,
                            workload: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``transports.json`` and ``transports.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"workload": workload,
           "transports": [{**asdict(r.units), "run_id": r.run_id, "stop_reason": r.stop_reason,
                           "report": str(r.report_dir / "report.html")} for r in runs],
           "breakeven": breakeven_doc(runs, interval_s=interval_s, tables=tables,
                                      sends_per_user_s=sends_per_user_s)}
    json_path, html_path = out_dir / "transports.json", out_dir / "transports.html"
    json_path.write_text(json.dumps(jsonable(doc), indent=2, allow_nan=False))
    html_path.write_text(_html(doc, figure=to_data_uri(breakeven_figure(doc["breakeven"]))),
                         encoding="utf-8")
    return json_path, html_path


COLUMNS = (("users per core at SLO", "users_per_core", 0), ("SLO status", "capacity_status", None),
           ("p50 delivery ms", "delivery_p50_ms", 0), ("p95 delivery ms", "delivery_p95_ms", 0),
           ("requests/s per user", "requests_per_user_s", 3),
           ("KB RSS per user", "rss_kb_per_user", 1), ("µcores per user", "ucores_per_user", 1),
           ("messages/min per user", "deliveries_per_user_min", 2))


def _html(doc: dict[str, Any], *, figure: str) -> str:
    rows = []
    tables = sorted({name for t in doc["transports"] for name in t["costs"]})
    for t in doc["transports"]:
        t = {**t, "rss_kb_per_user": _scaled(t["rss_bytes_per_user"], 1e-3),
             "ucores_per_user": _scaled(t["cores_per_user"], 1e6)}
        cells = [_cell(t[key], digits) for _title, key, digits in COLUMNS]
        cells += [_cell(t["costs"].get(name), 2) if name in t["costs"] else "n/a"
                  for name in tables]
        rows.append(f"<tr><th><a href='{html.escape(t['report'])}'>{t['transport']}</a></th>"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(c[0])}</th>" for c in COLUMNS) + "".join(
        f"<th>USD / 1,000 users / month: {html.escape(n)}</th>" for n in tables)
    words = "".join(f"<li>{html.escape(w)}</li>" for w in doc["breakeven"]["words"])
    workload = html.escape(", ".join(f"{k} {v}" for k, v in doc["workload"].items()))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>pollcap transports</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:4px 8px;
border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>Polling or push: the break-even</h1><p>Workload: {workload}. One knee ramp per
transport; a users-per-core figure with status <i>never_exceeded</i> is a lower bound (the
ramp ended before the SLO broke). CPU and memory per user are the marginal slopes over the
steps that met the SLO.</p>
<table><tr><th>transport</th>{head}</tr>{"".join(rows)}</table>
<h2>Where polling stays the better choice</h2><ul>{words}</ul>
<img src="{figure}" alt="break-even chart"><p>Above a curve polling is cheaper; the solid
(CPU per message) and dashed (CPU per connection) curves bound the split of push's measured
CPU, the dotted one compares the serverless bills.</p></body></html>"""


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _cell(value: Any, digits: int | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if digits is None or not isinstance(value, int | float):
        return html.escape(str(value))
    return f"{value:,.{digits}f}"
