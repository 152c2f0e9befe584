"""The sweep: Pareto front, presets, the pick."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from analysis.sweep.grid import expand_grid
from analysis.sweep.run import BASELINE_PRESETS, pareto_mask, run_sweep
from analysis.synthetic import synthetic_run
from target_service.policy import PRESETS, ThresholdPolicy


def test_pareto_mask_keeps_only_undominated_points() -> None:
    rate = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.inf])
    p95 = np.array([9.0, 7.0, 8.0, 7.0, 3.0, np.inf, 1.0])
    assert pareto_mask(rate, p95).tolist() == [True, True, False, False, True, False, False]


def test_sweep_includes_presets_and_picks_the_cheapest_meeting_the_slo(
    small_grid: dict[str, Any],
) -> None:
    run = synthetic_run(n_events=5000, cache_mode="fresh")
    result = run_sweep(run, expand_grid(small_grid), slo_p95_ms=3000)
    table = result.table
    assert set(BASELINE_PRESETS) <= set(table.loc[table["preset"], "name"])
    assert result.best is not None
    ok = table[table["meets_slo"]]
    best = table[table["name"] == result.best.name].iloc[0]
    assert best["delivery_p95_ms"] <= 3000
    assert best["cost_per_month_usd"] == ok["cost_per_month_usd"].min()
    assert best["pareto"]  # the cheapest feasible point is on the front
    assert result.top(2)[0] == result.best


def test_sweep_with_unreachable_slo_picks_nothing(small_grid: dict[str, Any]) -> None:
    run = synthetic_run(n_events=5000, cache_mode="seed")
    result = run_sweep(run, expand_grid(small_grid), slo_p95_ms=500)
    assert result.best is None and result.top(3) == []


def test_every_preset_round_trips_as_json() -> None:
    for preset in PRESETS.values():
        assert ThresholdPolicy.from_dict(json.loads(preset.to_json())) == preset
