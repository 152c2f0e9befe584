"""Per-step statistics of a step-ramp run, computed exactly from raw samples.

Percentiles are numpy's linear interpolation over *every* sample in the
window (no histograms, no buckets), so p99 of 10 samples is what it is rather
than a bucket edge. Each step's first ``warmup_fraction`` is dropped: users
are still being spawned there and the cache is cold, which is not the steady
state the step is meant to measure.

``steps`` (``steps.csv``) has one row per step with ``users, start_ms, end_ms``
and, optionally, counts taken over the whole step ``[start_ms, end_ms)`` by
the runner: ``requests, failures, lost, duplicated, redis_ops, pg_queries``.
Missing counts are derived from samples when possible, otherwise NaN.

A step's ``requests_per_s`` is measured over its steady part, like its CPU and its
latencies: the chat polls the samples time-stamp there, times the step's ratio of all
requests to chat polls (``requests`` / ``polls``, both counted by the users). The
counters alone cannot give the steady rate: they reach Redis once a second
(``loadtests.recording.recorder.FLUSH_INTERVAL_S``), so a 15 s step's count is off by
up to one flush, 6.7 %, and further when a busy generator flushes late. Two default
``pollcap capacity`` runs of the same code (fixed 2 s polls) put requests per user at
0.626 and 0.589 from the counters, at 0.634 and 0.619 this way, with service demand
700 and 733 µs from the counters, 693 and 692 µs this way. Both counts come in the
same flushes, so their ratio does not depend on where a flush falls. The whole-step
figure stays beside it as ``requests_per_s_counted``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS

PERCENTILES: tuple[int, ...] = (50, 95, 99)
WARMUP_FRACTION = PLAN_DEFAULTS.warmup_fraction
STEP_COLUMNS: tuple[str, ...] = ("users", "start_ms", "end_ms")
COUNT_COLUMNS: tuple[str, ...] = (
    "requests", "failures", "lost", "duplicated", "redis_ops", "pg_queries",
)


def exact_percentiles(values: Sequence[float] | np.ndarray | pd.Series,
                      qs: Sequence[int] = PERCENTILES) -> dict[int, float]:
    """``{q: value}`` from all samples; NaN for an empty input."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {q: float("nan") for q in qs}
    return dict(zip(qs, (float(v) for v in np.percentile(arr, list(qs))), strict=True))


def steps_frame(steps: Sequence[tuple[int, int, int]] | pd.DataFrame) -> pd.DataFrame:
    """Normalise ``[(users, start_ms, end_ms), ...]`` or a frame into a sorted steps frame."""
    frame = steps.copy() if isinstance(steps, pd.DataFrame) else pd.DataFrame(
        list(steps), columns=list(STEP_COLUMNS))
    missing = [c for c in STEP_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"steps lack column(s) {', '.join(missing)}")
    if (frame["end_ms"] <= frame["start_ms"]).any():
        raise ValueError("every step needs end_ms > start_ms")
    return frame.sort_values("start_ms", kind="stable").reset_index(drop=True)


def median_poll_interval_ms(polls: pd.DataFrame) -> float:
    """Median gap between one user's consecutive polls: the interval T actually lived."""
    if len(polls) < 2:
        return float("nan")
    ordered = polls.sort_values(["user", "t_ms"], kind="stable")
    gaps = ordered["t_ms"].diff().to_numpy(dtype=np.float64)
    same_user = (ordered["user"] == ordered["user"].shift()).to_numpy()
    gaps = gaps[same_user]
    return float(np.median(gaps)) if gaps.size else float("nan")


def step_table(
    *,
    steps: Sequence[tuple[int, int, int]] | pd.DataFrame,
    samples: dict[str, pd.DataFrame],
    resources: pd.DataFrame | None = None,
    warmup_fraction: float = WARMUP_FRACTION,
) -> pd.DataFrame:
    """One row per step: load, request and delivery latency, errors, losses, CPU."""
    frame = steps_frame(steps)
    polls = _sorted(samples.get("poll"))
    messages = _sorted(samples.get("message"))
    notifications = _sorted(samples.get("notification"))
    rows = []
    for step in frame.itertuples(index=False):
        start_ms, end_ms = int(step.start_ms), int(step.end_ms)
        lo_ms = start_ms + int((end_ms - start_ms) * warmup_fraction)
        rows.append({
            "users": int(step.users),
            "start_ms": start_ms,
            "end_ms": end_ms,
            **_request_stats(step, _window(polls, lo_ms, end_ms), lo_ms=lo_ms, end_ms=end_ms),
            **_delivery_stats(_window(messages, lo_ms, end_ms),
                              _window(notifications, lo_ms, end_ms)),
            **_count_stats(step, start_ms=start_ms, end_ms=end_ms),
            **_resource_stats(resources, lo_ms=lo_ms, end_ms=end_ms),
        })
    return pd.DataFrame(rows)


def _request_stats(step: object, polls: pd.DataFrame, *, lo_ms: int, end_ms: int) -> dict:
    duration_s = (int(step.end_ms) - int(step.start_ms)) / 1000.0  # type: ignore[attr-defined]
    requests = float(getattr(step, "requests", float("nan")))
    counted = requests / duration_s
    sampled_s = len(polls) / ((end_ms - lo_ms) / 1000.0)
    if pd.isna(requests):
        requests, counted = float(len(polls)), sampled_s
    pct = exact_percentiles(polls["latency_ms"])
    return {
        "requests": requests,
        "requests_per_s": steady_requests_per_s(
            sampled_polls_per_s=sampled_s, requests=requests,
            polls=float(getattr(step, "polls", float("nan"))), counted_per_s=counted),
        "requests_per_s_counted": counted,
        "poll_samples": len(polls),
        "req_mean_ms": float(polls["latency_ms"].mean()) if len(polls) else float("nan"),
        **{f"req_p{q}_ms": v for q, v in pct.items()},
        "poll_interval_ms": median_poll_interval_ms(polls),
    }


def steady_requests_per_s(*, sampled_polls_per_s: float, requests: float, polls: float,
                          counted_per_s: float) -> float:
    """Steady polls/s from the samples × the step's requests per chat poll (counters).

    Without chat polls (push transports, no ``polls`` count) the counted rate stands."""
    if not (polls > 0 and requests > 0 and sampled_polls_per_s > 0):
        return counted_per_s
    return sampled_polls_per_s * requests / polls


def _delivery_stats(messages: pd.DataFrame, notifications: pd.DataFrame) -> dict:
    pct = exact_percentiles(messages["latency_ms"])
    note_pct = exact_percentiles(notifications["latency_ms"])
    return {
        "delivery_samples": len(messages),
        "delivery_mean_ms": float(messages["latency_ms"].mean()) if len(messages) else float("nan"),
        **{f"delivery_p{q}_ms": v for q, v in pct.items()},
        "notification_samples": len(notifications),
        **{f"notification_p{q}_ms": v for q, v in note_pct.items()},
    }


def _count_stats(step: object, *, start_ms: int, end_ms: int) -> dict:
    duration_s = (end_ms - start_ms) / 1000.0
    get = lambda name: float(getattr(step, name, float("nan")))  # noqa: E731
    requests, failures = get("requests"), get("failures")
    return {
        "errors": failures,
        "error_rate": failures / requests if requests > 0 else float("nan"),
        "lost": get("lost"),
        "duplicated": get("duplicated"),
        "redis_ops_per_s": get("redis_ops") / duration_s,
        "pg_queries_per_s": get("pg_queries") / duration_s,
    }


def _resource_stats(resources: pd.DataFrame | None, *, lo_ms: int, end_ms: int) -> dict:
    if resources is None or resources.empty:
        return {"cpu_percent": float("nan"), "rss_mb": float("nan")}
    window = _window(_sorted(resources), lo_ms, end_ms)
    if window.empty:
        return {"cpu_percent": float("nan"), "rss_mb": float("nan")}
    return {
        "cpu_percent": float(window["cpu_percent"].mean()),
        "rss_mb": float(window["rss_bytes"].max()) / 1e6,
    }


def _sorted(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({"t_ms": pd.Series([], dtype=np.int64),
                             "user": pd.Series([], dtype=str),
                             "latency_ms": pd.Series([], dtype=np.float64)})
    if frame["t_ms"].is_monotonic_increasing:
        return frame
    return frame.sort_values("t_ms", kind="stable").reset_index(drop=True)


def _window(frame: pd.DataFrame, lo_ms: int, end_ms: int) -> pd.DataFrame:
    """Rows with ``lo_ms <= t_ms < end_ms`` of a time-sorted frame (binary search)."""
    t = frame["t_ms"].to_numpy()
    lo, hi = np.searchsorted(t, lo_ms, side="left"), np.searchsorted(t, end_ms, side="left")
    return frame.iloc[lo:hi]
