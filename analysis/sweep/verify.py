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
and 15% (p95). The live swarm is :mod:`analysis.sweep.verify_live`, the comparison
:mod:`analysis.sweep.verify_compare`; this module makes the predictions and strings
them together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.sweep.from_report import channel_users_from_polls, message_events
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.seed_cache import SeedDelayMemo
from analysis.sweep.simulate import evaluate_policy
from analysis.sweep.verify_compare import compare, replay_columns
from analysis.sweep.verify_live import LiveSetup, measure_policy
from target_service.policy import ThresholdPolicy


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
        setup = LiveSetup(users=users, duration_s=duration_s,
                          scenario=recorded_scenario(recorded), cache_mode=recorded.cache_mode,
                          redis_url=info.redis_url, database_url=info.database_url,
                          runs_dir=runs_dir, host=host, target=target)
        for policy in policies:
            predicted = evaluate_policy(predict_on, policy, memo=memo)
            measured = measure_policy(policy, setup=setup)
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
