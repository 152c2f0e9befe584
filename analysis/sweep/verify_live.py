"""``pollcap sweep --verify``, the live part: one swarm per policy, its steady-state figures.

A fresh reference service advertising the policy (clients obey its ``pollIntervalMs``),
or ``--host`` with the users applying the policy themselves; a constant swarm with the
recorded run's scenario; then the polls and messages of its steady part (after the
spawn and ``SETTLE_S``, before the last 2 s), read from the samples Redis.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import redis

from loadtests.recording.samples import read_samples
from target_service.policy import ThresholdPolicy

if TYPE_CHECKING:
    from loadtests.swarm.run import SwarmResult

SETTLE_S = 12.0  # after the last user spawned: first polls + the first interval changes
SPAWN_S = 5.0
TAIL_MS = 2000  # the swarm's stop: users leaving, not steady


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
    end_ms = meta["ended_at_ms"] - TAIL_MS
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
