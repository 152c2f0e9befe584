"""What a push transport costs per step, and why its delivery is slow when it is (pure).

For ``pollcap capacity --realtime long-poll|sse|websocket``. Per step, over its steady
part (the resources frame's ``push_*`` columns, scraped from the service's ``/metrics``
by :mod:`analysis.capacity.push_probe`, and its CPU/RSS samples):

* ``connections``: the service's own count of open WebSockets + SSE streams + held
  long-polls (mean over the window);
* ``rss_mib`` and, across steps, the **RSS slope**: service memory per connection
  (least squares of RSS over connections, KiB per connection);
* ``cpu_ms_per_message``: service CPU per delivered message (CPU-ms over the
  receivers' delivery samples), and ``cpu_us_per_connection_s``: CPU per connection
  (CPU-µs per second per connection: what merely holding and feeding it costs);
* ``fanout_lag_ms``: commit (``createdAt``) to hand-off to the subscribers, per message;
* ``catchups_per_s`` and ``resume_closes``: subscribers that fell behind.

Push causes name why a step's delivery is slow, as :mod:`analysis.model.causes` does
for polling: **fan-out lag** (the hub hands messages over late: the commit-to-hand-off
time is a large share of delivery), **slow consumers** (subscribers fell behind: caught
up by cursor, or closed with 4409 to resume), **overload** (service CPU near a core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.model.causes import CPU_BUSY_PERCENT

PUSH_TRANSPORTS = ("long-poll", "sse", "websocket")
CONNECTION_COLUMNS = ("push_ws_connections", "push_sse_connections", "push_longpoll_waiting")
FANOUT_LAG_MS = 50.0  # a hand-off slower than this is a cause of its own
FANOUT_SHARE = 0.5  # ... or one that is at least half the median delivery
CATCHUPS_PER_1K_DELIVERED = 1.0  # more than 1 catch-up per 1,000 deliveries: slow consumers


@dataclass(frozen=True, slots=True)
class PushCause:
    users: int
    cause: str  # fan-out lag, slow consumers, overload, ok, no data
    evidence: str


@dataclass(frozen=True, slots=True)
class PushFindings:
    transport: str
    table: pd.DataFrame  # one row per step (columns in the module docstring)
    rss_kib_per_connection: float | None
    causes: list[PushCause]
    summary: str


def _window(frame: pd.DataFrame, lo_ms: float, hi_ms: float) -> pd.DataFrame:
    return frame[(frame["t_ms"] >= lo_ms) & (frame["t_ms"] < hi_ms)]


def _delta(rows: pd.DataFrame, column: str) -> float:
    if column not in rows or len(rows) < 2:
        return math.nan
    return float(rows[column].iloc[-1] - rows[column].iloc[0])


def step_push_row(*, users: int, lo_ms: float, hi_ms: float, resources: pd.DataFrame,
                  delivered: int) -> dict[str, float]:
    """One step's push figures from its steady window ``[lo_ms, hi_ms)``."""
    rows = _window(resources, lo_ms, hi_ms)
    span_s = max((hi_ms - lo_ms) / 1000.0, 1e-3)
    present = [c for c in CONNECTION_COLUMNS if c in rows]
    connections = float(rows[present].sum(axis=1).mean()) if present and len(rows) else math.nan
    cpu_cores = float(rows["cpu_percent"].mean()) / 100.0 if len(rows) else math.nan
    delivered_per_s = delivered / span_s
    lag_messages = _delta(rows, "push_fanout_messages")
    return {
        "users": users,
        "connections": connections,
        "rss_mib": float(rows["rss_bytes"].mean()) / 2**20 if len(rows) else math.nan,
        "cpu_cores": cpu_cores,
        "delivered_per_s": delivered_per_s,
        "cpu_ms_per_message": cpu_cores * 1000.0 / delivered_per_s if delivered else math.nan,
        "cpu_us_per_connection_s": cpu_cores * 1e6 / connections if connections > 0 else math.nan,
        "fanout_lag_ms": _delta(rows, "push_fanout_lag_ms_sum") / lag_messages
        if lag_messages > 0 else math.nan,
        "catchups_per_s": _delta(rows, "push_catchups") / span_s,
        "resume_closes": _delta(rows, "push_resume_closes"),
    }


def push_table(*, steps: pd.DataFrame, resources: pd.DataFrame, messages: pd.DataFrame,
               warmup_fraction: float) -> pd.DataFrame:
    """One :func:`step_push_row` per step of ``steps`` (``users, start_ms, end_ms``)."""
    times = np.sort(messages["t_ms"].to_numpy()) if len(messages) else np.array([])
    out = []
    for step in steps.itertuples(index=False):
        start, end = float(step.start_ms), float(step.end_ms)
        lo = start + (end - start) * warmup_fraction
        delivered = int(np.searchsorted(times, end) - np.searchsorted(times, lo))
        out.append(step_push_row(users=int(step.users), lo_ms=lo, hi_ms=end,
                                 resources=resources, delivered=delivered))
    return pd.DataFrame(out)


def rss_slope_kib(table: pd.DataFrame) -> float | None:
    """Service KiB per connection: the slope of RSS over connections across steps."""
    usable = table[np.isfinite(table["connections"]) & np.isfinite(table["rss_mib"])]
    if len(usable) < 2 or usable["connections"].nunique() < 2:
        return None
    slope_mib = float(np.polyfit(usable["connections"], usable["rss_mib"], 1)[0])
    return slope_mib * 1024.0


def push_cause(row: dict[str, float], *, delivery_p50_ms: float) -> PushCause:
    """Why this step's delivery is what it is (the module docstring's causes)."""
    users = int(row["users"])
    if not math.isfinite(row["connections"]):
        return PushCause(users, "no data", "no /metrics samples of the service in this step")
    found = []
    lag = row["fanout_lag_ms"]
    if math.isfinite(lag) and (lag >= FANOUT_LAG_MS or (
            math.isfinite(delivery_p50_ms) and delivery_p50_ms > 0
            and lag >= FANOUT_SHARE * delivery_p50_ms)):
        found.append(("fan-out lag", f"commit to hand-off {lag:.0f} ms per message (delivery "
                                     f"p50 {delivery_p50_ms:.0f} ms)"))
    per_1k = 1000.0 * row["catchups_per_s"] / max(row["delivered_per_s"], 1e-9)
    if row["resume_closes"] > 0 or (math.isfinite(per_1k) and per_1k > CATCHUPS_PER_1K_DELIVERED):
        found.append(("slow consumers", f"{row['catchups_per_s']:.1f} catch-ups/s "
                                        f"({per_1k:.1f} per 1,000 deliveries), "
                                        f"{row['resume_closes']:.0f} closed to resume"))
    cpu = row["cpu_cores"] * 100.0
    if math.isfinite(cpu) and cpu >= CPU_BUSY_PERCENT:
        found.append(("overload", f"service CPU {cpu:.0f}%"))
    if not found:
        return PushCause(users, "ok", f"hand-off {lag:.0f} ms, no subscriber fell behind")
    return PushCause(users, ", ".join(c for c, _ in found), "; ".join(e for _, e in found))


def push_findings(*, transport: str, steps: pd.DataFrame, resources: pd.DataFrame,
                  messages: pd.DataFrame, step_delivery_p50_ms: dict[int, float],
                  warmup_fraction: float) -> PushFindings:
    table = push_table(steps=steps, resources=resources, messages=messages,
                       warmup_fraction=warmup_fraction)
    causes = [push_cause(row, delivery_p50_ms=step_delivery_p50_ms.get(int(row["users"]),
                                                                       math.nan))
              for row in table.to_dict("records")]
    return PushFindings(transport=transport, table=table, rss_kib_per_connection=rss_slope_kib(
        table) if len(table) else None, causes=causes, summary=summarize_push(causes))


def summarize_push(causes: list[PushCause]) -> str:
    named = [c for c in causes if c.cause not in ("ok", "no data")]
    if not causes or all(c.cause == "no data" for c in causes):
        return "Push: no /metrics samples of the service (a --host service, or metrics off)."
    if not named:
        return "Push: no fan-out lag, no slow consumer, no overload at any step."
    by: dict[str, list[int]] = {}
    for c in named:
        for part in c.cause.split(", "):
            by.setdefault(part, []).append(c.users)
    return "Push: " + "; ".join(f"{k} at {', '.join(map(str, v))} users"
                                for k, v in by.items()) + "."
