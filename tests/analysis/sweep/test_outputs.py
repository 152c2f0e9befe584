"""A sweep's files: tables, the policy JSON (loadable), summary and figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analysis.sweep.grid import expand_grid
from analysis.sweep.outputs import write_sweep
from analysis.sweep.run import BASELINE_PRESETS, run_sweep
from analysis.sweep.simulate import evaluate_policy
from analysis.synthetic import synthetic_run
from target_service.policy import load_policy


def test_written_policy_round_trips_through_load_policy(
    tmp_path: Path, small_grid: dict[str, Any]
) -> None:
    run = synthetic_run(n_events=5000, cache_mode="fresh")
    result = run_sweep(run, expand_grid(small_grid), slo_p95_ms=3000)
    paths = write_sweep(result, out_dir=tmp_path / "sweep", policy_out=tmp_path / "best.json")
    for key in ("results", "front", "summary", "figure", "policy", "policy_out"):
        assert paths[key].is_file(), key
    loaded = load_policy(str(tmp_path / "best.json"))
    assert loaded == result.best
    assert evaluate_policy(run, loaded)["delivery_p95_ms"] == pytest.approx(
        result.table.set_index("name").loc[result.best.name, "delivery_p95_ms"]
    )
    summary = json.loads(paths["summary"].read_text())
    assert summary["best"]["policy"] == result.best.to_dict()
    assert set(summary["presets"]) == set(BASELINE_PRESETS)
    assert paths["figure"].read_bytes()[:4] == b"\x89PNG"
