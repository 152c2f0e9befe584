"""A :class:`~analysis.sweep.recorded.RecordedRun` from a report folder of ``pollcap capacity``.

``reports/<run-id>/`` (see :mod:`analysis.runs`) holds the steps, the raw poll
and message samples and the run's meta. From them:

* windows = the steps' steady parts (warm-up dropped, as in the step table);
* users per channel per window = distinct users whose chat polls hit that channel;
* message events = one per (channel, seq), created at receive time - delivery latency;
* background requests = the step's request rate minus its chat-poll rate (the
  notifications and sends a chat policy does not govern);
* response time against throughput = the steps' mean poll latency and request
  rate; capacity = the USL fit's peak throughput over users (``fit_usl``), else
  (a ramp that never bent) requests/s per busy core at the top step, or
  ``capacity_rps`` when given.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS, REPORTS_DIR, SOURCE_CACHE_TTL_S
from analysis.model.stats import step_table
from analysis.model.usl import fit_usl
from analysis.runs import RunData, load_run_data
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.response import ResponseModel
from target_service.errors import UserError

MIN_CPU_PERCENT = 2.0  # below this the CPU share is too noisy to extrapolate capacity


def load_recorded_run(
    run_id: str,
    *,
    reports_dir: Path = REPORTS_DIR,
    capacity_rps: float | None = None,
    steps: list[int] | None = None,
) -> RecordedRun:
    """The run ``run_id`` as the simulator's input; ``steps`` selects step indices (0-based)."""
    return recorded_run_from_data(
        load_run_data(run_id, reports_dir=reports_dir), capacity_rps=capacity_rps, steps=steps
    )


def recorded_run_from_data(
    data: RunData, *, capacity_rps: float | None = None, steps: list[int] | None = None
) -> RecordedRun:
    """See the module docstring; raises :class:`UserError` when the folder lacks samples."""
    polls, messages = data.samples.get("poll"), data.samples.get("message")
    if polls is None or polls.empty:
        raise UserError(f"run {data.run_id} has no poll samples (samples/poll.parquet)")
    warmup = float(data.meta.get("warmup_fraction") or PLAN_DEFAULTS.warmup_fraction)
    table = step_table(
        steps=data.steps, samples=data.samples, resources=data.resources, warmup_fraction=warmup
    )
    if steps is not None:
        bad = [s for s in steps if not 0 <= s < len(table)]
        if bad:
            raise UserError(f"--step {bad[0]} out of range: the run has {len(table)} steps")
    workers = int(data.meta.get("service_workers") or 1)
    capacity, source = (
        (capacity_rps, "--capacity-rps")
        if capacity_rps
        else _capacity_rps(table, run_id=data.run_id, workers=workers)
    )
    chosen = table if steps is None else table.iloc[sorted(set(steps))]
    starts = (chosen["start_ms"] + (chosen["end_ms"] - chosen["start_ms"]) * warmup).to_numpy()
    ends = chosen["end_ms"].to_numpy(dtype=np.float64)
    channels = sorted(set(polls["channel"].astype(str)))
    users, poll_rps = channel_users_from_polls(polls, channels=channels, starts=starts, ends=ends)
    msg_channel, created = message_events(messages, channels=channels)
    mode = data.meta.get("cache_mode") or ("seed" if data.meta.get("cache_ttl_s") else "fresh")
    ttl = data.meta.get("cache_ttl_s") or SOURCE_CACHE_TTL_S
    return RecordedRun(
        run_id=data.run_id,
        window_start_ms=starts.astype(np.float64),
        window_end_ms=ends,
        channel_users=users,
        message_channel=msg_channel,
        message_created_ms=created,
        response=ResponseModel.from_points(
            throughput_rps=table["requests_per_s"].to_numpy(dtype=np.float64),
            response_ms=table["req_mean_ms"].to_numpy(dtype=np.float64),
            capacity_rps=capacity,
        ),
        background_rps=np.maximum(
            chosen["requests_per_s"].to_numpy(dtype=np.float64) - poll_rps, 0.0
        ),
        cache_mode=str(mode),
        cache_ttl_s=float(ttl),
        price_per_million_usd=float(
            data.meta.get("price_per_million_usd") or PLAN_DEFAULTS.price_per_million_usd
        ),
        meta={**data.meta, "capacity_source": source},
    )


def _capacity_rps(table: pd.DataFrame, *, run_id: str, workers: int) -> tuple[float, str]:
    """The USL peak; if the ramp never bent, requests/s per busy core at the top step.

    A run that never saturated has no throughput peak; its CPU use still says how far
    it was: a single-threaded worker saturates at one core (``cpu_percent`` 100).
    """
    users = table["users"].to_numpy(dtype=np.float64)
    rps = table["requests_per_s"].to_numpy(dtype=np.float64)
    try:
        peak = fit_usl(users, rps).peak_x
    except (ValueError, RuntimeError):
        peak = math.nan
    if math.isfinite(peak) and peak > 0:
        return float(peak), "USL peak X(N*)"
    cpu = table["cpu_percent"].to_numpy(dtype=np.float64) if "cpu_percent" in table else None
    if cpu is not None and len(cpu) and np.isfinite(cpu[-1]) and cpu[-1] >= MIN_CPU_PERCENT:
        return (
            float(rps[-1] / (cpu[-1] / 100.0) * workers),
            f"top step's req/s per busy core (CPU {cpu[-1]:.0f}%, {workers} worker(s))",
        )
    raise UserError(
        f"run {run_id}: no capacity from the USL (no throughput peak) nor from CPU use; "
        "pass --capacity-rps"
    )


def channel_users_from_polls(
    polls: pd.DataFrame, *, channels: list[str], starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct polling users per (window, channel), and each window's chat polls/s."""
    t = polls["t_ms"].to_numpy(dtype=np.float64)
    window = np.searchsorted(starts, t, side="right") - 1
    inside = (window >= 0) & (t < ends[np.clip(window, 0, None)])
    frame = pd.DataFrame(
        {
            "window": window[inside],
            "channel": pd.Categorical(polls["channel"].astype(str)[inside], categories=channels),
            "user": polls["user"].to_numpy()[inside],
        }
    )
    counts = frame.groupby(["window", "channel"], observed=False)["user"].nunique()
    users = np.zeros((starts.size, len(channels)))
    for (w, c), n in counts.items():
        users[int(w), channels.index(str(c))] = n
    poll_rps = np.bincount(window[inside], minlength=starts.size) / ((ends - starts) / 1000.0)
    return users, poll_rps


def message_events(
    messages: pd.DataFrame | None, *, channels: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One event per (channel, seq): created = earliest receive time - latency."""
    if messages is None or messages.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    created = messages["t_ms"].to_numpy(dtype=np.float64) - messages["latency_ms"].to_numpy()
    frame = pd.DataFrame(
        {"channel": messages["channel"].astype(str), "seq": messages["seq"], "created": created}
    )
    events = frame.groupby(["channel", "seq"], sort=False)["created"].min().reset_index()
    events = events[events["channel"].isin(channels)]
    code = pd.Categorical(events["channel"], categories=channels).codes.astype(np.int64)
    return code, events["created"].to_numpy(dtype=np.float64)
