"""``loadtests.swarm.run_folder``: the meta lands in the folder and in Redis alike, a reused
run id starts afresh, and stages are placed from when the test really started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import redis

from loadtests.recording.keys import TEST_STARTED_FIELD, run_meta_key
from loadtests.shapes import Stage
from loadtests.swarm.plan import plan_swarm
from loadtests.swarm.run_folder import open_run, stage_windows


def test_the_meta_is_the_same_in_the_folder_and_in_redis(
    client: redis.Redis, tmp_path: Path,
) -> None:
    plan = plan_swarm(host="http://127.0.0.1:9", redis_url="redis://unused", users=4,
                      spawn_rate=2.0, duration_s=10.0, shape="constant", processes=1,
                      client_policy="fixed-2s", run_id="again", runs_dir=tmp_path,
                      allow_remote=False, scenario=None, master=None)
    key = run_meta_key(run_id="again")
    client.hset(key, TEST_STARTED_FIELD, "123")  # left by an earlier run of the same id
    meta = open_run(client, plan, extra_meta={"service": {"workers": 2}})
    on_disk = json.loads((plan.run_dir / "meta.json").read_text())
    stored = cast(dict[bytes, bytes], client.hgetall(key))  # no decode_responses: bytes
    in_redis = {k.decode(): json.loads(v) for k, v in stored.items()}
    assert on_disk == in_redis == json.loads(json.dumps(meta, default=str))
    assert TEST_STARTED_FIELD not in in_redis
    assert on_disk["service"] == {"workers": 2} and on_disk["duration_s"] == 10.0


def test_stage_windows_start_from_the_recorded_test_start(client: redis.Redis) -> None:
    stages = [Stage(end_s=10.0, users=2, spawn_rate=1.0), Stage(end_s=25.0, users=4,
                                                                spawn_rate=1.0)]
    assert stage_windows(client, run_id="w", stages=stages) == {}  # nothing recorded yet
    client.hset(run_meta_key(run_id="w"), TEST_STARTED_FIELD, json.dumps(1_000_000))
    assert stage_windows(client, run_id="w", stages=stages) == {
        "test_started_at_ms": 1_000_000,
        "stage_windows": [
            {"users": 2, "start_ms": 1_000_000, "end_ms": 1_010_000},
            {"users": 4, "start_ms": 1_010_000, "end_ms": 1_025_000},
        ],
    }
