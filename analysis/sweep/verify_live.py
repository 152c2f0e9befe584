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
from dataclasses import dataclass
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


@dataclass(frozen=True, kw_only=True)
class LiveSetup:
    """How every policy's swarm of one verify runs: users, duration, the recorded
    scenario and cache mode, the backends, and ``host`` (with ``target``, its
    description) to measure a service of your own instead of a fresh reference one."""

    users: int
    duration_s: float
    scenario: dict[str, Any] | None
    cache_mode: str
    redis_url: str
    database_url: str
    runs_dir: Path
    host: str | None = None
    target: str = ""


def measure_policy(policy: ThresholdPolicy, *, setup: LiveSetup) -> dict[str, Any]:
    """One live swarm against a fresh service running ``policy`` (or ``host``, the users
    applying it); steady-state figures."""
    redis_url = setup.redis_url
    result = _policy_swarm(policy, setup=setup)
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


def _policy_swarm(policy: ThresholdPolicy, *, setup: LiveSetup) -> SwarmResult:
    """A fresh service advertising ``policy``, and a constant swarm obeying it; or, with
    ``host``, that service and users applying the policy themselves."""
    from loadtests.swarm.run import ScenarioParams, run_swarm
    from target_service.serve import run_service

    known = {f.name for f in dataclasses.fields(ScenarioParams)}
    recorded = {k: v for k, v in (setup.scenario or {}).items() if k in known}
    params = ScenarioParams(**{**recorded, "target": setup.target})  # the service measured now
    common: dict[str, Any] = dict(
        redis_url=setup.redis_url, users=setup.users, duration_s=setup.duration_s,
        spawn_rate=max(setup.users / SPAWN_S, 1.0), scenario=params, runs_dir=setup.runs_dir)
    with tempfile.TemporaryDirectory(prefix="pollcap-verify-") as tmp:
        policy_path = Path(tmp) / "policy.json"
        policy_path.write_text(policy.to_json())
        if setup.host is not None:
            return run_swarm(
                host=setup.host, client_policy=str(policy_path), **common,
                meta={"verify_policy": policy.to_dict(),
                      "target": setup.target or "reference"},
            )
        with run_service(redis_url=setup.redis_url, database_url=setup.database_url,
                         policy=str(policy_path), cache_mode=setup.cache_mode) as service:
            return run_swarm(host=service.url, client_policy="server", **common,
                             meta={"verify_policy": policy.to_dict()})


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
