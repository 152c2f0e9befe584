"""Unit costs of one transport, read off its analysed capacity run (pure).

Per transport: users per core at the SLO (the measured SLO capacity over the service's
cores; a lower bound when the ramp never broke the SLO), p50/p95 delivery at the
largest step that met it, requests/s, memory and CPU per user (the least-squares slope
of RSS and of CPU over the steps that met the SLO: the marginal cost of one more user,
without the process's fixed footprint), and the cost per 1,000 users per month under
each price table that applies to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.model.pricing import PriceTable
from analysis.report.render import Analysis

# which price tables bill a transport (the self-hosted one bills them all)
TABLE_MODELS: dict[str, tuple[str, ...]] = {
    "polling": ("lambda_http", "instances"),
    "long-poll": ("lambda_http", "instances"),  # Lambda bills the held request's duration
    "sse": ("instances",),  # API Gateway has no SSE; Durable Objects not modelled for it
    "websocket": ("apigw_websocket", "durable_objects", "instances"),
}


@dataclass(frozen=True, slots=True)
class TransportUnits:
    transport: str
    users_at_slo: float | None
    capacity_status: str  # interpolated, never_exceeded (a lower bound), never_met
    service_cores: float
    users_per_core: float | None
    delivery_p50_ms: float | None
    delivery_p95_ms: float | None
    requests_per_user_s: float
    deliveries_per_user_min: float
    cores_per_user: float | None  # CPU-seconds per second per user (marginal)
    rss_bytes_per_user: float | None  # marginal memory per user
    core_s_per_request: float | None  # service demand D at the busiest passing step
    response_ms: float
    steps: int
    costs: dict[str, float | None] = field(default_factory=dict)  # table name -> USD


def transport_units(result: Analysis, *, transport: str,
                    tables: Sequence[PriceTable]) -> TransportUnits:
    """The unit costs of ``transport`` from its analysed run (``tables``: those it used)."""
    table, cap = result.table, result.capacity
    passing = table if cap.last_pass_users is None else table[
        table["users"] <= cap.last_pass_users]
    cores = float(result.inputs.get("service_cores") or 1)
    at = _row(table, users=cap.last_pass_users)
    findings = result.findings
    usage = findings.usage if findings else None
    allowed = TABLE_MODELS.get(transport, ("instances",))
    models = {t.name: t.model for t in tables}
    costs = {c.table: c.per_1000_users_month_usd for c in (findings.costs if findings else [])
             if models.get(c.table) in allowed}
    return TransportUnits(
        transport=transport, users_at_slo=cap.users, capacity_status=cap.status,
        service_cores=cores, users_per_core=None if cap.users is None else cap.users / cores,
        delivery_p50_ms=_num(at, "delivery_p50_ms"), delivery_p95_ms=_num(at, "delivery_p95_ms"),
        requests_per_user_s=result.plan.rates.requests_per_s,
        deliveries_per_user_min=60.0 * (usage.deliveries_per_user_s if usage else 0.0),
        cores_per_user=_slope(passing, "cpu_percent", scale=0.01),
        rss_bytes_per_user=_slope(passing, "rss_mb", scale=1e6),
        core_s_per_request=findings.bound.demand_s if findings else None,
        response_ms=usage.response_ms if usage else math.nan,
        steps=len(table), costs=costs)


def _row(table: pd.DataFrame, *, users: int | None) -> dict[str, Any]:
    if users is None or table.empty:
        return {} if table.empty else table.sort_values("users").iloc[0].to_dict()
    return table[table["users"] == users].iloc[0].to_dict()


def _num(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _slope(rows: pd.DataFrame, column: str, *, scale: float) -> float | None:
    """Least-squares d(column)/d(users) × scale over the rows (None with < 2 usable)."""
    if column not in rows:
        return None
    data = rows[["users", column]].apply(pd.to_numeric, errors="coerce").dropna()
    if data["users"].nunique() < 2:  # one step: no slope (its average holds the fixed part)
        return None
    slope = float(np.polyfit(data["users"].to_numpy(float), data[column].to_numpy(float), 1)[0])
    return max(slope, 0.0) * scale
