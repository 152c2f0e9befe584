"""A RecordedRun read from a report folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.runs import RunData
from analysis.sweep.from_report import load_recorded_run
from analysis.sweep.simulate import evaluate_policy
from target_service.policy import PRESETS


def test_recorded_run_from_a_report_folder(
    tmp_path: Path, recorded_run_folder: Callable[..., RunData]
) -> None:
    recorded_run_folder(tmp_path)
    run = load_recorded_run("rec", reports_dir=tmp_path, capacity_rps=100.0)
    assert run.channel_users.tolist() == [[4.0, 4.0], [8.0, 8.0]]
    assert run.cache_mode == "fresh" and run.price_per_million_usd == 0.5
    out = evaluate_policy(run, PRESETS["fixed-2s"])
    # 4 then 8 users per channel, 2 channels, one poll per 2 s each
    assert out["polls_per_s"] == pytest.approx((8 / 2 + 16 / 2) / 2, rel=0.01)
    assert out["delivery_mean_ms"] == pytest.approx(1000 + 13, rel=0.03)
    steps_only = load_recorded_run("rec", reports_dir=tmp_path, capacity_rps=100.0, steps=[1])
    assert steps_only.channel_users.tolist() == [[8.0, 8.0]]
