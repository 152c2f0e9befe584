"""``pollcap sweep --verify``: run the top policies live and compare with the predictions.

The prediction is made first, from the recorded run only: its steps, each with
its users per channel scaled to the verify swarm's user count, evaluated with the
policy. Then, per policy, the reference service runs
with that policy (clients obey its advertised ``pollIntervalMs``, so load-
dependent policies act as deployed) and a constant swarm with the recorded run's
scenario (channels, skew, senders, cache mode) measures, in its steady part:

* chat polls per second (what the policy governs), against the predicted rate;
* p95 delivery latency of chat messages, against the predicted p95.

Errors are ``(predicted - measured) / measured`` in percent; targets 10% (rate)
and 15% (p95).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import redis

from analysis.sweep.from_report import channel_users_from_polls, message_events
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.seed_cache import SeedDelayMemo
from analysis.sweep.simulate import evaluate_policy
from loadtests.recording.samples import read_samples
from target_service.policy import ThresholdPolicy

if TYPE_CHECKING:
    from loadtests.swarm.run import SwarmResult

RATE_TOLERANCE = 0.10
P95_TOLERANCE = 0.15
SETTLE_S = 12.0  # after the last user spawned: first polls + the first interval changes
SPAWN_S = 5.0


def prediction_run(recorded: RecordedRun, *, users: int) -> RecordedRun:
    """Every recorded step, its users per channel scaled to ``users`` in all.

    Channel sizes and which channels the senders landed in are one random draw per
    step; a short step with a few hundred messages is a noisy sample of them, so
    the steps are pooled (each scaled to the verify swarm's users) rather than the
    nearest one taken alone (recomputed against three live seed-cache verify swarms,
    pooling moved the p95 errors from -17..-22% to -11..-15%).
    """
    totals = recorded.channel_users.sum(axis=1)
    scale = np.where(totals > 0, users / np.maximum(totals, 1.0), 0.0)
    return dataclasses.replace(
        recorded,
        channel_users=np.round(recorded.channel_users * scale[:, None]),
        background_rps=np.asarray(recorded.background_rps) * scale,
    )


def default_users(recorded: RecordedRun) -> int:
    """The largest recorded step (its users are what the prediction is exact for)."""
    return int(recorded.channel_users.sum(axis=1).max())


def recorded_scenario(recorded: RecordedRun) -> dict[str, Any]:
    """The recorded run's swarm scenario: its meta, else the swarm run folder's meta.json."""
    scenario = recorded.meta.get("scenario")
    if isinstance(scenario, dict):
        return scenario
    swarm_dir = recorded.meta.get("swarm_run_dir")
    path = Path(str(swarm_dir)) / "meta.json" if swarm_dir else None
    if path is not None and path.is_file():
        found = json.loads(path.read_text()).get("scenario")
        if isinstance(found, dict):
            return found
    return {}


def verify_policies(
    recorded: RecordedRun,
    policies: Sequence[ThresholdPolicy],
    *,
    users: int | None = None,
    duration_s: float = 60.0,
    redis_url: str | None = None,
    database_url: str | None = None,
    runs_dir: Path = Path("runs"),
    host: str | None = None,
    target: str = "",
) -> list[dict[str, Any]]:
    """Predict, then measure each policy live; one result row per policy.

    ``host`` (with ``target``, its description): measure your own service there; it
    cannot take the policy, so the users apply it themselves (client policy).
    """
    from target_service.embedded.stack import Stack

    users = users or default_users(recorded)
    predict_on = prediction_run(recorded, users=users)
    memo = SeedDelayMemo()  # the predictions share one run: its cache simulations too
    rows = []
    with Stack(redis_url=redis_url, database_url=database_url) as info:
        for policy in policies:
            predicted = evaluate_policy(predict_on, policy, memo=memo)
            measured = measure_policy(
                policy,
                users=users,
                duration_s=duration_s,
                scenario=recorded_scenario(recorded),
                cache_mode=recorded.cache_mode,
                redis_url=info.redis_url,
                database_url=info.database_url,
                runs_dir=runs_dir,
                host=host,
                target=target,
            )
            replay = evaluate_policy(
                replay_run(
                    recorded,
                    polls=measured["polls"],
                    messages=measured["messages"],
                    start_ms=measured["start_ms"],
                    end_ms=measured["end_ms"],
                ),
                policy,
            )
            row = compare(policy=policy, users=users, predicted=predicted, measured=measured)
            rows.append({**row, **replay_columns(replay, measured)})
    return rows


def measure_policy(
    policy: ThresholdPolicy,
    *,
    users: int,
    duration_s: float,
    scenario: dict[str, Any] | None,
    cache_mode: str,
    redis_url: str,
    database_url: str,
    runs_dir: Path,
    host: str | None = None,
    target: str = "",
) -> dict[str, Any]:
    """One live swarm against a fresh service running ``policy`` (or ``host``, the users
    applying it); steady-state figures."""
    result = _policy_swarm(policy, users=users, duration_s=duration_s, scenario=scenario,
                           cache_mode=cache_mode, redis_url=redis_url,
                           database_url=database_url, runs_dir=runs_dir, host=host,
                           target=target)
    meta = json.loads((result.run_dir / "meta.json").read_text())
    start_ms = meta["started_at_ms"] + (SPAWN_S + SETTLE_S) * 1000
    end_ms = meta["ended_at_ms"] - 2000
    polls, messages = _steady_samples(redis_url, run_id=result.run_id, start_ms=start_ms,
                                      end_ms=end_ms)
    span_s = max((end_ms - start_ms) / 1000.0, 1e-9)
    return {
        "run_id": result.run_id,
        "polls": polls,
        "messages": messages,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "polls_per_s": len(polls) / span_s,
        # the swarm summary's all-request rate (older summaries call it "rps")
        "requests_per_s": float(
            result.summary.get("requests_per_s", result.summary.get("rps")) or float("nan")
        ),
        "delivery_p95_ms": float(np.percentile(messages["latency_ms"], 95))
        if len(messages)
        else float("nan"),
        "delivery_samples": len(messages),
        "errors": result.summary.get("errors"),
    }


def _policy_swarm(
    policy: ThresholdPolicy,
    *,
    users: int,
    duration_s: float,
    scenario: dict[str, Any] | None,
    cache_mode: str,
    redis_url: str,
    database_url: str,
    runs_dir: Path,
    host: str | None = None,
    target: str = "",
) -> SwarmResult:
    """A fresh service advertising ``policy``, and a constant swarm obeying it; or, with
    ``host``, that service and users applying the policy themselves."""
    from loadtests.swarm.run import ScenarioParams, run_swarm
    from target_service.serve import run_service

    known = {f.name for f in dataclasses.fields(ScenarioParams)}
    recorded = {k: v for k, v in (scenario or {}).items() if k in known}
    params = ScenarioParams(**{**recorded, "target": target})  # the service measured now
    with tempfile.TemporaryDirectory(prefix="pollcap-verify-") as tmp:
        policy_path = Path(tmp) / "policy.json"
        policy_path.write_text(policy.to_json())
        if host is not None:
            return run_swarm(
                host=host, redis_url=redis_url, users=users,
                spawn_rate=max(users / SPAWN_S, 1.0), duration_s=duration_s,
                client_policy=str(policy_path), scenario=params, runs_dir=runs_dir,
                meta={"verify_policy": policy.to_dict(), "target": target or "reference"},
            )
        with run_service(redis_url=redis_url, database_url=database_url,
                         policy=str(policy_path), cache_mode=cache_mode) as service:
            return run_swarm(
                host=service.url, redis_url=redis_url, users=users,
                spawn_rate=max(users / SPAWN_S, 1.0), duration_s=duration_s,
                client_policy="server", scenario=params, runs_dir=runs_dir,
                meta={"verify_policy": policy.to_dict()},
            )


def _steady_samples(
    redis_url: str, *, run_id: str, start_ms: float, end_ms: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Poll and message samples of ``[start_ms, end_ms]``."""
    client = redis.Redis.from_url(redis_url)
    try:
        polls = read_samples(client, run_id=run_id, sample_type="poll", start_ms=start_ms,
                             end_ms=end_ms)
        messages = read_samples(client, run_id=run_id, sample_type="message",
                                start_ms=start_ms, end_ms=end_ms)
    finally:
        client.close()
    return polls, messages


def replay_run(
    recorded: RecordedRun,
    *,
    polls: pd.DataFrame,
    messages: pd.DataFrame,
    start_ms: float,
    end_ms: float,
) -> RecordedRun:
    """The verify swarm's own inputs (who polled which channel, when messages were sent).

    Channel membership and message times do not depend on the policy, but a swarm
    draws them at random, so they differ from the recorded step's. Evaluating the
    model on them separates the model's error from that scenario noise.
    """
    channels = sorted(set(polls["channel"].astype(str))) or ["-"]
    starts, ends = np.array([float(start_ms)]), np.array([float(end_ms)])
    users, _ = channel_users_from_polls(polls, channels=channels, starts=starts, ends=ends)
    msg_channel, created = message_events(messages, channels=channels)
    return dataclasses.replace(
        recorded,
        window_start_ms=starts,
        window_end_ms=ends,
        channel_users=users,
        message_channel=msg_channel,
        message_created_ms=created,
        background_rps=np.zeros(1),
    )


def replay_columns(replay: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """The replay prediction and its errors (see :func:`replay_run`)."""

    def error_pct(pred: float, meas: float) -> float:
        return round(float((pred - meas) / meas * 100.0), 1) if meas else float("nan")

    return {
        "replay_polls_per_s": round(float(replay["polls_per_s"]), 2),
        "replay_rate_error_pct": error_pct(replay["polls_per_s"], measured["polls_per_s"]),
        "replay_p95_ms": round(float(replay["delivery_p95_ms"]), 1),
        "replay_p95_error_pct": error_pct(replay["delivery_p95_ms"], measured["delivery_p95_ms"]),
    }


def compare(
    *, policy: ThresholdPolicy, users: int, predicted: dict[str, Any], measured: dict[str, Any]
) -> dict[str, Any]:
    """A result row with the errors in percent and whether both are within target."""

    def error_pct(pred: float, meas: float) -> float:
        return float((pred - meas) / meas * 100.0) if meas else float("nan")

    rate_err = error_pct(predicted["polls_per_s"], measured["polls_per_s"])
    p95_err = error_pct(predicted["delivery_p95_ms"], measured["delivery_p95_ms"])
    return {
        "policy": policy.name,
        "users": users,
        "predicted_polls_per_s": round(float(predicted["polls_per_s"]), 2),
        "measured_polls_per_s": round(float(measured["polls_per_s"]), 2),
        "rate_error_pct": round(rate_err, 1),
        "predicted_p95_ms": round(float(predicted["delivery_p95_ms"]), 1),
        "measured_p95_ms": round(float(measured["delivery_p95_ms"]), 1),
        "p95_error_pct": round(p95_err, 1),
        "delivery_samples": measured["delivery_samples"],
        # all requests (polls, notifications, sends): predicted = polls + the step's rest
        "predicted_requests_per_s": round(float(predicted.get("requests_per_s", float("nan"))), 2),
        "measured_requests_per_s": measured.get("requests_per_s"),
        "within_target": bool(
            abs(rate_err) <= RATE_TOLERANCE * 100 and abs(p95_err) <= P95_TOLERANCE * 100
        ),
        "verify_run_id": measured["run_id"],
    }
