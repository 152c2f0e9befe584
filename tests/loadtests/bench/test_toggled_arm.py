"""The bench's toggled arm end to end: a real Locust process against the stub, recording
switched off and on every second, its split read from the edges the process noted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from loadtests.bench.run import run_arm
from loadtests.bench.stub_server import run_bench_target
from loadtests.bench.verdict import recording_share
from loadtests.recording.keys import samples_key
from loadtests.recording.toggle import recording_on_at
from loadtests.swarm.run import ScenarioParams
from target_service.embedded.stack import StackInfo
from target_service.serve import free_port

TOGGLE_S = 1.0


@pytest.mark.slow
def test_a_toggled_arm_records_in_on_windows_only_and_splits_its_cpu(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    with run_bench_target(port=free_port()) as url:
        arm = run_arm(
            record=True, host=url, redis_url=clean_backends.redis_url, users=80,
            spawn_rate=80, duration_s=16, runs_dir=tmp_path, cpu_affinity=None,
            scenario=ScenarioParams(sender_share=0.05, notification_rate_per_s=1.0),
            toggle_s=TOGGLE_S,
        )
    assert not arm.problems and arm.poll_rps and arm.toggle_s == TOGGLE_S
    split = arm.split
    assert split is not None and split.pairs >= 3
    assert split.on_us_per_request > 0 and split.off_us_per_request > 0
    assert -1.0 < split.share < 1.0 and len(split.pair_shares) == split.pairs
    assert recording_share(arm, arm) == split.share

    client = redis.Redis.from_url(clean_backends.redis_url)
    try:
        polls: Any = client.zrange(samples_key(run_id=arm.run_id, sample_type="poll"), 0, -1,
                                   withscores=True)
    finally:
        client.close()
    # after the ramp (toggling starts there) every poll sample falls in an on window
    stamped = [score / 1000.0 for _, score in polls]
    late = [t for t in stamped if t > min(stamped) + 3.0]
    assert late and all(recording_on_at(t, period_s=TOGGLE_S) for t in late)
