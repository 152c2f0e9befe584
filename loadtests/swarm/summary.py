"""The swarm summary: Locust's CSVs plus the Redis samples and counters, as one dict.

Request counts come from Locust's CSVs minus the ``DELIVERY`` rows (those are
delivery-latency samples shown in Locust's UI, not requests). The request rate is
the steady-state one: over the part of the run where the user count sat at its
final plateau (from ``locust_stats_history.csv``), after one settling period,
counted from the ms-stamped poll samples where they exist.
Latency percentiles come from the Redis samples, which every process wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis

from loadtests.clients.names import DELIVERY, POLL_NAME
from loadtests.recording.keys import (
    GENERATOR_PREFIX,
    LIVE_CONNECTIONS_PEAK_PREFIX,
    PUSH_COUNTER_FIELDS,
    run_live_key,
    run_meta_key,
)
from loadtests.recording.samples import percentiles_ms, read_samples
from loadtests.swarm.problems import failure_lines, find_problems, log_lines

SETTLE_S = 5.0  # skip this long after the plateau is reached (random poll phases settle)
STOP_MARGIN_S = 1.0  # rows this close to the planned end may already be stopping users


def summarize(
    client: redis.Redis,
    *,
    run_id: str,
    run_dir: Path,
    meta: dict[str, Any],
    counters: dict[str, int],
) -> dict[str, Any]:
    stats = read_csv(run_dir / "locust_stats.csv")
    history = read_csv(run_dir / "locust_stats_history.csv")
    polls = read_samples(client, run_id=run_id, sample_type="poll")
    messages = read_samples(client, run_id=run_id, sample_type="message")
    notes = read_samples(client, run_id=run_id, sample_type="notification")
    requests, errors = request_totals(stats)
    rps, poll_rps, window_s = steady_rates(history, poll_t_ms=polls["t_ms"].to_numpy(),
                                           run_s=meta.get("duration_s"))
    polls_done = max(counters.get("polls", 0), 1)
    poll_requests = request_count(stats, name=POLL_NAME, method="GET")
    problems = find_problems(
        polls=poll_requests,
        requests=requests,
        errors=errors,
        steady_window_s=window_s,
        returncode=int(meta.get("returncode", 0)),
        failures=failure_lines(read_csv(run_dir / "locust_failures.csv")),
        log_warnings=log_lines(_read_text(run_dir / "locust.log")),
        expect_polls=meta.get("realtime", "polling") != "websocket",
    )
    return {
        "run_id": run_id,
        "users": max((s["users"] for s in meta.get("stages", [])), default=meta.get("users")),
        "duration_s": meta.get("duration_s"),
        "client_policy": meta.get("client_policy"),
        "requests": requests,
        "rps": rps,
        "poll_rps": poll_rps,
        "steady_window_s": window_s,
        "poll_latency_ms": _pct(polls["latency_ms"].to_numpy()),
        "delivery_latency_ms": percentiles_ms(messages["latency_ms"].to_numpy()),
        "notification_latency_ms": percentiles_ms(notes["latency_ms"].to_numpy()),
        "messages_sent": counters.get("messages_sent", 0),
        "messages_delivered": counters.get("messages_delivered", 0),
        "lost": counters.get("lost", 0),
        "duplicated": counters.get("duplicated", 0),
        "reordered": counters.get("reordered", 0),
        "notifications_created": counters.get("notifications_created", 0),
        "notifications_delivered": counters.get("notifications_delivered", 0),
        "errors": errors,
        "polls": counters.get("polls", 0),
        "poll_requests": poll_requests,
        "poll_late_ms_mean": round(counters.get("poll_late_ms_sum", 0) / polls_done, 1),
        "samples": {"poll": len(polls), "message": len(messages), "notification": len(notes)},
        **push_summary(client, run_id=run_id, meta=meta, counters=counters),
        "generator": generator_health(client, run_id=run_id),
        "problems": problems,
    }


def push_summary(
    client: redis.Redis, *, run_id: str, meta: dict[str, Any], counters: dict[str, int]
) -> dict[str, Any]:
    """The transport and its connection counters (zeros for plain polling).

    ``connections_peak`` sums each Locust process's own peak of open push connections
    (exact for one process, an upper bound for several); ``reconnect_ms`` is the time
    from a dropped connection until the server confirmed the resumed stream.
    """
    reconnect = read_samples(client, run_id=run_id, sample_type="reconnect")
    live: Any = client.hgetall(run_live_key(run_id=run_id))
    prefix = LIVE_CONNECTIONS_PEAK_PREFIX.encode()
    peaks = [int(v) for k, v in live.items() if k.startswith(prefix)]
    return {
        "realtime": meta.get("realtime", "polling"),
        **{name: counters.get(name, 0) for name in PUSH_COUNTER_FIELDS},
        "connections_peak": sum(peaks),
        "reconnect_ms": percentiles_ms(reconnect["latency_ms"].to_numpy()),
    }


def generator_health(client: redis.Redis, *, run_id: str) -> dict[str, Any]:
    """Each Locust process's hub lag and GC figures, as its recorder stored them."""
    raw: Any = client.hgetall(run_meta_key(run_id=run_id))
    prefix = GENERATOR_PREFIX.encode()
    return {
        key[len(prefix) :].decode(): json.loads(value)
        for key, value in raw.items()
        if key.startswith(prefix)
    }


def _read_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _pct(latency_ms: np.ndarray) -> dict[str, float | None]:
    return {k: v for k, v in percentiles_ms(latency_ms).items() if k != "max"}


def read_csv(path: Path) -> pd.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    return pd.read_csv(path)


def request_totals(stats: pd.DataFrame) -> tuple[int, int]:
    """(requests, failures) over real request rows of ``locust_stats.csv``."""
    if stats.empty:
        return 0, 0
    rows = stats[(stats["Name"] != "Aggregated") & (stats["Type"] != DELIVERY)]
    return int(rows["Request Count"].sum()), int(rows["Failure Count"].sum())


def request_count(stats: pd.DataFrame, *, name: str, method: str) -> int:
    """Requests of one (method, name) row of ``locust_stats.csv`` (recorded or not)."""
    if stats.empty:
        return 0
    rows = stats[(stats["Name"] == name) & (stats["Type"] == method)]
    return int(rows["Request Count"].sum())


@dataclass(frozen=True, slots=True)
class SteadyWindow:
    """The settled part of the final user plateau: epoch seconds and the request rate in it."""

    start_s: float
    end_s: float
    rps: float

    @property
    def span_s(self) -> float:
        return self.end_s - self.start_s


def steady_rates(
    history: pd.DataFrame, *, poll_t_ms: np.ndarray, run_s: float | None = None
) -> tuple[float, float, float]:
    """(requests/s, chat polls/s, window s) on the final plateau.

    Locust's history counts move in steps (whole seconds; every 3 s with worker
    processes), enough to bias a 30 s rate by 10%. When poll samples exist, the
    poll rate is counted from their ms receive times inside the window, and the
    request rate scaled by the same correction. ``run_s``: the planned run time (see
    :func:`steady_window`).
    """
    every = steady_window(history, run_s=run_s)
    poll = steady_window(history, name=POLL_NAME, method="GET", run_s=run_s)
    if every is None:
        return 0.0, 0.0, 0.0
    if poll is None or poll.rps <= 0 or poll_t_ms.size == 0:
        return every.rps, 0.0 if poll is None else poll.rps, every.span_s
    inside = (poll_t_ms >= poll.start_s * 1000) & (poll_t_ms <= poll.end_s * 1000)
    precise = float(inside.sum()) / poll.span_s
    return round(every.rps * precise / poll.rps, 2), round(precise, 2), poll.span_s


def final_plateau(users: np.ndarray) -> tuple[int, int]:
    """First and last row of the last run of equal user counts longer than one row.

    Skipped at the end: stopped rows (0), and a lone row caught while Locust stopped
    its users (a starved process writes its history rows many seconds apart, so the
    last one can land mid-stop, e.g. 8,675 of 10,000); that was taken for the plateau,
    and the bench then found no steady window.
    """
    end = len(users) - 1
    while end > 0 and users[end] == 0:
        end -= 1
    while end > 0:
        begin = end
        while begin > 0 and users[begin - 1] == users[end]:
            begin -= 1
        if begin < end or begin == 0:
            return begin, end
        end -= 1
    return 0, 0


def _window_span_s(times: np.ndarray, first: int, end: int) -> float:
    """Seconds between history rows ``first`` and ``end``.

    Locust writes a row, then sleeps a second, and stamps the row with its whole second,
    so rows are a little over 1 s apart, and a write that slips past a second boundary
    skips a stamp (35, 37): the stamps then count 2 s for 1 s of requests, and a 29 s
    window of a held 5,000 polls/s read 96.8 %. One skipped stamp is that slip, and the
    rows count the span; more are a writer slower than a row a second (a starved
    process), and the stamps count it.
    """
    rows, stamps = float(end - first), float(times[end] - times[first])
    return rows if stamps - rows <= 1.0 else stamps


def steady_window(
    history: pd.DataFrame,
    *,
    name: str | None = None,
    method: str | None = None,
    run_s: float | None = None,
) -> SteadyWindow | None:
    """The final plateau of a full-history CSV, minus ``SETTLE_S`` at its start.

    ``name``/``method`` restrict the rate to one request; otherwise every non-delivery one.
    ``run_s``, Locust's ``--run-time``: the window ends ``STOP_MARGIN_S`` before it runs
    out (counted from the history's first row, when the test started). The rows after
    are Locust stopping its users: 10,000 of them take a second or two, during which the
    plateau's user count still shows but polls stop, and a 30 s window that kept them
    read 96.6 % of a rate the seconds before it held in full.
    """
    if history.empty:
        return None
    if run_s:
        first_s = float(history["Timestamp"].min())
        history = history[history["Timestamp"] <= first_s + float(run_s) - STOP_MARGIN_S]
    rows = history[(history["Name"] != "Aggregated") & (history["Type"] != DELIVERY)]
    if name is not None:
        rows = rows[rows["Name"] == name]
    if method is not None:
        rows = rows[rows["Type"] == method]
    if rows.empty:
        return None
    per_t = rows.groupby("Timestamp").agg(
        count=("Total Request Count", "sum"), users=("User Count", "max")
    )
    per_t = per_t.sort_index()
    users = per_t["users"].to_numpy()
    begin, end = final_plateau(users)
    times = per_t.index.to_numpy(dtype=float)
    counts = per_t["count"].to_numpy(dtype=float)
    first = int(np.searchsorted(times, times[begin] + SETTLE_S))
    if end - first < 1:  # plateau too short to settle: use all of it
        first = begin
    span_s = _window_span_s(times, first, end)
    if span_s <= 0:
        return None
    rps = round(float(counts[end] - counts[first]) / span_s, 2)
    return SteadyWindow(start_s=float(times[first]), end_s=float(times[end]), rps=rps)
