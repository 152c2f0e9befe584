"""Every headline figure of two runs' reports side by side: run A, run B, apart %.

The bootstrap verdicts (:mod:`analysis.compare.verdict`) weigh four figures with
intervals; this table answers the plainer question "do two runs of the same code agree
on what the report says?" for every figure the report headlines: SLO capacity, the CPU
bound and the users at it, the USL's capped peak, requests per user, the cost per 1,000
users per month under each price table, and the instances for each planned user count.

Instance counts are compared on their continuous figure (``instances_exact``: users ÷
users per instance), not on the whole number to deploy: 10.7 and 11.1 instances' worth
are 3.7 % apart, their ceilings 11 and 12 are 9.1 %. The rounded count is printed beside.
Pure: it reads two ``summary.json`` documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HeadlineRow:
    name: str
    a: float | None
    b: float | None
    shown_a: str  # as the report shows it (instances: "10.7 → 11")
    shown_b: str

    @property
    def apart_pct(self) -> float | None:
        """(B − A) / A in percent; None when either is missing or A is 0."""
        if self.a is None or self.b is None or self.a == 0:
            return None
        return (self.b - self.a) / abs(self.a) * 100.0


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _get(doc: dict[str, Any], *path: str) -> float | None:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return _num(node)


def headline_figures(summary: dict[str, Any]) -> dict[str, tuple[float | None, str]]:
    """``{name: (value compared, value as shown)}`` of one run's ``summary.json``."""
    out: dict[str, tuple[float | None, str]] = {}

    def put(name: str, value: float | None, digits: int = 0) -> None:
        out[name] = (value, "–" if value is None else f"{value:,.{digits}f}")

    put("SLO capacity (users)", _get(summary, "slo_capacity", "users"))
    put("CPU bound (requests/s)", _get(summary, "model", "bound", "max_requests_per_s"))
    put("service demand (µs per request)", _get(summary, "model", "bound", "demand_us"))
    put("USL peak, capped (requests/s)",
        _get(summary, "model", "usl_peak", "requests_per_s", "value"))
    put("users at the CPU bound", _get(summary, "model", "usl_peak", "users", "value"))
    put("requests/s per user", _get(summary, "plan", "rates", "requests_per_s"), 3)
    for cost in (summary.get("model") or {}).get("costs") or []:
        put(f"$ per 1,000 users per month: {cost.get('table')}",
            _num(cost.get("per_1000_users_month_usd")), 2)
    for row in (summary.get("plan") or {}).get("rows") or []:
        exact, whole = _num(row.get("instances_exact")), row.get("instances")
        name = f"instances at {int(row.get('target_users', 0)):,} users"
        if exact is None and whole is None:
            out[name] = (None, "–")
        elif exact is None:  # a run reported before the continuous figure existed
            out[name] = (_num(whole), f"{whole}")
        else:
            out[name] = (exact, f"{exact:.1f} → {whole}")
    return out


def headline_rows(a: dict[str, Any], b: dict[str, Any]) -> list[HeadlineRow]:
    """One row per figure either run reports, in the report's order."""
    fa, fb = headline_figures(a), headline_figures(b)
    names = list(fa) + [n for n in fb if n not in fa]
    missing: tuple[float | None, str] = (None, "–")
    return [HeadlineRow(name=n, a=fa.get(n, missing)[0], b=fb.get(n, missing)[0],
                        shown_a=fa.get(n, missing)[1], shown_b=fb.get(n, missing)[1])
            for n in names]


def headline_json(rows: list[HeadlineRow]) -> list[dict[str, Any]]:
    return [{"figure": r.name, "a": r.a, "b": r.b, "shown_a": r.shown_a, "shown_b": r.shown_b,
             "apart_pct": r.apart_pct} for r in rows]
