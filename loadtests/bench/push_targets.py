"""The push bench's targets (issue 10), each beside its measured value and the ratio (pure).

``figures`` is what :mod:`loadtests.bench.push` measured, by part: ``latency`` and
``resume`` map a transport to its swarm row (:func:`loadtests.bench.push_swarms.
transport_swarm`), ``hold`` is :func:`loadtests.bench.push_hold.hold_websockets`'s
result, ``longpoll`` is ``measure_longpoll``'s, ``locust_ws`` one swarm row. A part
that was not run has no rows; a part that ran and failed to measure shows ``n/a`` and
counts as missed.

Polling's target is its floor: with a fixed interval T a message waits uniformly in
[0, T) for the next poll, so the median delivery is T/2 + the median poll response
(:mod:`analysis.model.causes` reads it the same way); the row is the measured median
over that floor, at most 1.2 (the causes' "at floor" tolerance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from loadtests.bench.verdict import TargetRow

FLOOR_TOLERANCE = 1.2
PUSH_STREAMS = ("websocket", "sse")


@dataclass(frozen=True, slots=True)
class PushTargets:
    stream_p50_ms: float = 20.0  # WebSocket and SSE, 1,000 users, light load
    stream_p99_ms: float = 100.0
    long_poll_p50_ms: float = 50.0
    floor_ratio: float = FLOOR_TOLERANCE
    min_reconnects: int = 1000
    min_ws_held: int = 10_000
    hold_p95_ms: float = 250.0
    max_kib_per_connection: float = 30.0
    min_locust_ws_users: int = 10_000
    min_long_polls_held: int = 5000


def polling_floor_ratio(row: dict[str, Any], *, interval_ms: float) -> float | None:
    """Median delivery over T/2 + median poll response (None without both)."""
    p50, poll = _pct(row, "delivery_ms", "p50"), _pct(row, "poll_ms", "p50")
    if p50 is None or poll is None:
        return None
    return round(p50 / (interval_ms / 2 + poll), 3)


def _pct(row: dict[str, Any] | None, key: str, q: str) -> float | None:
    """A percentile of ``key``; for delivery, of the steady part when it was measured."""
    row = row or {}
    if key == "delivery_ms" and row.get("delivery_steady_ms"):
        key = "delivery_steady_ms"
    value = (row.get(key) or {}).get(q)
    return None if value is None else float(value)


def latency_rows(latency: dict[str, dict[str, Any]], *, t: PushTargets,
                 interval_ms: float) -> list[TargetRow]:
    rows = []
    for transport, row in latency.items():
        n = f"{row.get('users', 0):,}"
        if transport in PUSH_STREAMS:
            rows += [TargetRow(f"{transport} delivery p50 ms ({n} users)",
                               _pct(row, "delivery_ms", "p50"), t.stream_p50_ms, False),
                     TargetRow(f"{transport} delivery p99 ms ({n} users)",
                               _pct(row, "delivery_ms", "p99"), t.stream_p99_ms, False)]
        elif transport == "long-poll":
            rows.append(TargetRow(f"long-poll delivery p50 ms ({n} users)",
                                  _pct(row, "delivery_ms", "p50"), t.long_poll_p50_ms, False))
        else:
            rows.append(TargetRow(f"polling p50 / floor T/2+resp ({n} users)",
                                  polling_floor_ratio(row, interval_ms=interval_ms),
                                  t.floor_ratio, False))
    return rows


def resume_rows(resume: dict[str, dict[str, Any]], *, t: PushTargets) -> list[TargetRow]:
    rows = []
    for transport, row in resume.items():
        faults = None if "lost" not in row else float(row["lost"] + row["duplicated"])
        rows += [TargetRow(f"{transport} forced reconnects", float(row.get("forced_drops", 0)),
                           t.min_reconnects, True),
                 TargetRow(f"{transport} lost + duplicated", faults, 0, False)]
    return rows


def hold_rows(figures: dict[str, Any], *, t: PushTargets) -> list[TargetRow]:
    rows = []
    hold = figures.get("hold")
    if hold is not None:
        rows += [TargetRow("WebSockets held by one service worker", hold.get("held"),
                           t.min_ws_held, True),
                 TargetRow("p95 delivery ms at that hold", hold.get("p95_ms"),
                           t.hold_p95_ms, False),
                 TargetRow("service KiB per idle WebSocket (RSS slope)",
                           hold.get("kib_per_connection"), t.max_kib_per_connection, False)]
    locust = figures.get("locust_ws")
    if locust is not None:
        rows.append(TargetRow("WebSocket users held by one Locust process",
                              float(locust.get("connections_peak", 0)), t.min_locust_ws_users,
                              True))
    longpoll = figures.get("longpoll")
    if longpoll is not None:
        rows.append(TargetRow("long-polls held by one service worker", longpoll.get("held"),
                              t.min_long_polls_held, True))
    return rows


def target_rows(figures: dict[str, Any], *, interval_ms: float = 2000.0,
                targets: PushTargets | None = None) -> list[TargetRow]:
    t = targets or PushTargets()
    return [*latency_rows(figures.get("latency", {}), t=t, interval_ms=interval_ms),
            *resume_rows(figures.get("resume", {}), t=t), *hold_rows(figures, t=t)]


def verdict(figures: dict[str, Any], *, interval_ms: float = 2000.0,
            targets: PushTargets | None = None) -> dict[str, Any]:
    rows = target_rows(figures, interval_ms=interval_ms, targets=targets)
    return {"targets": [{**asdict(r), "ratio": r.ratio, "ok": r.ok} for r in rows],
            "ok": bool(rows) and all(r.ok for r in rows)}


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def targets_text(verdict_doc: dict[str, Any]) -> str:
    lines = [f"  {'target':<48} {'measured':>9} {'bound':>10} {'ratio':>7}"]
    for row in verdict_doc["targets"]:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        bound = f"{'>=' if row['at_least'] else '<='} {_num(row['bound'])}"
        lines.append(f"  {row['name']:<48} {_num(row['measured']):>9} {bound:>10} {ratio:>7}"
                     f"  {'ok' if row['ok'] else 'MISSED'}")
    return "\n".join(lines)
