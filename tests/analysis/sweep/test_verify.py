"""sweep --verify: the prediction step and one small live swarm (the comparison:
``test_verify_compare.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.sweep.recorded import RecordedRun
from analysis.sweep.response import ResponseModel
from analysis.sweep.verify import prediction_run, verify_policies
from target_service.embedded.stack import StackInfo
from target_service.policy import ThresholdPolicy


def two_step_run(**meta: object) -> RecordedRun:
    rng = np.random.default_rng(0)
    return RecordedRun(
        run_id="r",
        window_start_ms=np.array([0.0, 60_000.0]),
        window_end_ms=np.array([60_000.0, 120_000.0]),
        channel_users=np.array([[6.0, 4.0], [12.0, 8.0]]),
        message_channel=rng.integers(0, 2, 400),
        message_created_ms=np.sort(rng.random(400) * 120_000.0),
        response=ResponseModel(capacity_rps=500.0, base_ms=5.0),
        background_rps=np.array([1.0, 2.0]),
        cache_mode="fresh",
        meta=dict(meta),
    )


def test_prediction_pools_the_steps_scaled_to_the_users() -> None:
    run = two_step_run()
    pooled = prediction_run(run, users=20)
    assert pooled.channel_users.tolist() == [[12.0, 8.0], [12.0, 8.0]]
    assert pooled.background_rps is not None
    assert pooled.background_rps.tolist() == [2.0, 2.0]
    assert pooled.message_channel.size == run.message_channel.size
    assert prediction_run(run, users=40).channel_users.tolist() == [[24.0, 16.0], [24.0, 16.0]]


@pytest.mark.slow
def test_live_verify_of_a_fixed_interval_policy(clean_backends: StackInfo, tmp_path: Path) -> None:
    """20 users polling every 1 s: predicted 20 polls/s and p95 ~ 950 ms + response time."""
    run = RecordedRun(
        run_id="r",
        window_start_ms=np.array([0.0]),
        window_end_ms=np.array([60_000.0]),
        channel_users=np.array([[10.0, 10.0]]),
        message_channel=np.repeat([0, 1], 100),
        message_created_ms=np.tile(np.linspace(0, 59_000, 100), 2),
        response=ResponseModel(capacity_rps=500.0, base_ms=5.0),
        cache_mode="fresh",
        meta={
            "scenario": {
                "channels": 2,
                "channel_skew": 0.0,
                "sender_share": 0.3,
                "send_rate_per_min": 20.0,
                "notification_rate_per_s": 0.0,
            }
        },
    )
    policy = ThresholdPolicy(name="fixed-1s", default_ms=1000, cap_ms=1000)
    [row] = verify_policies(
        run,
        [policy],
        users=20,
        duration_s=40.0,
        redis_url=clean_backends.redis_url,
        database_url=clean_backends.database_url,
        runs_dir=tmp_path,
    )
    assert row["predicted_polls_per_s"] == pytest.approx(20.0)
    assert row["delivery_samples"] > 50
    assert abs(row["rate_error_pct"]) <= 10.0, row
    assert abs(row["p95_error_pct"]) <= 15.0, row
    # the model on the swarm's own inputs (channel membership, message times)
    assert abs(row["replay_rate_error_pct"]) <= 10.0, row
    assert abs(row["replay_p95_error_pct"]) <= 15.0, row
