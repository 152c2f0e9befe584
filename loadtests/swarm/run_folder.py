"""A swarm's run folder and its meta: opened before Locust starts, closed after it ends.

``runs/<run-id>/meta.json`` and the Redis hash ``run:{run}:meta`` always hold the same
document (:func:`write_meta`); :func:`close_run` adds the end time, the stage windows
on the wall clock, ``counters.json`` and ``summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis

from loadtests.recording.keys import TEST_STARTED_FIELD, run_meta_key
from loadtests.recording.samples import read_counters
from loadtests.shapes import Stage
from loadtests.swarm.plan import SwarmPlan, policy_doc, transport
from loadtests.swarm.summary import summarize


def open_run(
    client: redis.Redis, plan: SwarmPlan, *, extra_meta: dict[str, Any]
) -> dict[str, Any]:
    """Create the run folder and write the run's meta (folder and Redis) before Locust starts."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    meta_doc: dict[str, Any] = {
        "run_id": plan.run_id,
        "host": plan.host,
        "users": plan.users,
        "spawn_rate": plan.spawn_rate,
        "duration_s": plan.planned_s,
        "shape": plan.shape,
        "processes": plan.processes,
        "master": None if plan.master is None else {
            "expect_workers": plan.master.expect_workers, "bind_host": plan.master.bind_host,
            "bind_port": plan.master.bind_port},
        "client_policy": plan.client_policy,
        "realtime": transport(plan.scenario),
        "policy": policy_doc(plan.client_policy),
        "scenario": plan.scenario.public_dict(),
        "stages": [s.to_dict() for s in plan.stages],
        "started_at_ms": int(time.time() * 1000),
        **extra_meta,
    }
    client.hdel(run_meta_key(run_id=plan.run_id), TEST_STARTED_FIELD)  # a reused id starts afresh
    write_meta(client, plan.run_dir, meta_doc)
    return meta_doc


def close_run(
    client: redis.Redis, plan: SwarmPlan, *, meta_doc: dict[str, Any], returncode: int
) -> dict[str, Any]:
    """Complete the meta, save counters and the summary in the run folder; return the summary."""
    meta_doc.update(ended_at_ms=int(time.time() * 1000), returncode=returncode)
    meta_doc.update(stage_windows(client, run_id=plan.run_id, stages=plan.stages))
    write_meta(client, plan.run_dir, meta_doc)
    counters = read_counters(client, run_id=plan.run_id)
    (plan.run_dir / "counters.json").write_text(json.dumps(counters, indent=2) + "\n")
    summary = summarize(
        client, run_id=plan.run_id, run_dir=plan.run_dir, meta=meta_doc, counters=counters
    )
    (plan.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def stage_windows(client: redis.Redis, *, run_id: str, stages: list[Stage]) -> dict[str, Any]:
    """Planned stages on the wall clock, from when Locust's test actually started.

    ``started_at_ms`` is when the subprocess was launched; Locust imports for a few
    seconds before its shape clock starts, so steps are placed from the
    ``test_started_at_ms`` the recorders stamp (absent when nothing was recorded).
    """
    raw: Any = client.hget(run_meta_key(run_id=run_id), TEST_STARTED_FIELD)
    if raw is None:
        return {}
    start_ms = int(json.loads(raw))
    windows, begin_s = [], 0.0
    for stage in stages:
        windows.append(
            {
                "users": stage.users,
                "start_ms": int(start_ms + begin_s * 1000),
                "end_ms": int(start_ms + stage.end_s * 1000),
            }
        )
        begin_s = stage.end_s
    return {"test_started_at_ms": start_ms, "stage_windows": windows}


def write_meta(client: redis.Redis, run_dir: Path, meta_doc: dict[str, Any]) -> None:
    (run_dir / "meta.json").write_text(json.dumps(meta_doc, indent=2, default=str) + "\n")
    client.hset(
        run_meta_key(run_id=meta_doc["run_id"]),
        mapping={k: json.dumps(v, default=str) for k, v in meta_doc.items()},
    )
