"""Sweep: grids, the Pareto front, the pick as a loadable policy, run folders, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.runs import RunData, save_run_data
from analysis.sweep.grid import DEFAULT_GRID, GridError, expand_grid
from analysis.sweep.outputs import write_sweep
from analysis.sweep.recorded import load_recorded_run
from analysis.sweep.run import BASELINE_PRESETS, pareto_mask, run_sweep
from analysis.sweep.simulate import evaluate_policy
from analysis.synthetic import synthetic_run
from target_service.policy import PRESETS, ThresholdPolicy, load_policy

SMALL_GRID = {
    "threshold_levels": {"above_users": [5, 20], "intervals_ms": [1000, 3000], "max_levels": 1},
    "default_ms": [1000, 2000, 5000],
    "load_threshold": [0.8],
    "load_factor": [1.0, 1.5],
}


def test_default_grid_has_thousands_of_distinct_valid_policies() -> None:
    policies = expand_grid(DEFAULT_GRID)
    assert 3000 <= len(policies) <= 20_000
    assert len({p.name for p in policies}) == len(policies)


def test_small_grid_is_the_cartesian_product() -> None:
    # 1 + 2*2 threshold sets x 3 defaults x (1 + 1) load variants
    assert len(expand_grid(SMALL_GRID)) == 5 * 3 * 2


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "JSON object"),
        ({"default_msx": [1000]}, "unknown grid key"),
        ({"default_ms": 1000}, "must be a list"),
        ({"default_ms": []}, "must not be empty"),
        ({"default_ms": ["fast"]}, "must hold numbers"),
        ({"default_ms": [10]}, "invalid policy"),
        ({"thresholds": [[[5, "x"]]]}, "thresholds"),
        ({"threshold_levels": {"above_users": [5]}}, "intervals_ms"),
        (
            {"threshold_levels": {"above_users": [5], "intervals_ms": [1000], "max_levels": 9}},
            "0..4",
        ),
        ({"default_ms": list(range(1000, 400_000, 1))}, "limit"),
    ],
)
def test_grid_errors_name_the_problem(doc: object, message: str) -> None:
    with pytest.raises(GridError, match=message):
        expand_grid(doc)


def test_pareto_mask_keeps_only_undominated_points() -> None:
    rate = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.inf])
    p95 = np.array([9.0, 7.0, 8.0, 7.0, 3.0, np.inf, 1.0])
    assert pareto_mask(rate, p95).tolist() == [True, True, False, False, True, False, False]


def test_sweep_includes_presets_and_picks_the_cheapest_meeting_the_slo() -> None:
    run = synthetic_run(n_events=5000, cache_mode="fresh")
    result = run_sweep(run, expand_grid(SMALL_GRID), slo_p95_ms=3000)
    table = result.table
    assert set(BASELINE_PRESETS) <= set(table.loc[table["preset"], "name"])
    assert result.best is not None
    ok = table[table["meets_slo"]]
    best = table[table["name"] == result.best.name].iloc[0]
    assert best["delivery_p95_ms"] <= 3000
    assert best["cost_per_month_usd"] == ok["cost_per_month_usd"].min()
    assert best["pareto"]  # the cheapest feasible point is on the front
    assert result.top(2)[0] == result.best


def test_sweep_with_unreachable_slo_picks_nothing() -> None:
    run = synthetic_run(n_events=5000, cache_mode="seed")
    result = run_sweep(run, expand_grid(SMALL_GRID), slo_p95_ms=500)
    assert result.best is None and result.top(3) == []


def test_written_policy_round_trips_through_load_policy(tmp_path: Path) -> None:
    run = synthetic_run(n_events=5000, cache_mode="fresh")
    result = run_sweep(run, expand_grid(SMALL_GRID), slo_p95_ms=3000)
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


def test_every_preset_round_trips_as_json() -> None:
    for preset in PRESETS.values():
        assert ThresholdPolicy.from_dict(json.loads(preset.to_json())) == preset


def make_run_folder(reports_dir: Path, *, run_id: str = "rec") -> RunData:
    """Two 40 s steps; 4 and then 8 users per channel in 2 channels polling every 2 s."""
    rng = np.random.default_rng(0)
    t0 = 1_800_000_000_000
    steps, polls, messages = [], [], []
    for i, per_channel in enumerate((4, 8)):
        start, end = t0 + i * 40_000, t0 + (i + 1) * 40_000
        steps.append(
            {
                "users": 2 * per_channel,
                "start_ms": start,
                "end_ms": end,
                "requests": 2 * per_channel * 20 + 40,
            }
        )
        for c in range(2):
            for u in range(per_channel):
                t = start + rng.uniform(0, 2000) + np.arange(20) * 2000.0
                polls.append(
                    pd.DataFrame(
                        {
                            "t_ms": t.astype(np.int64),
                            "user": f"u{c}-{u}",
                            "n": np.arange(20),
                            "latency_ms": 10.0 + i * 5,
                            "channel": f"ch{c}",
                        }
                    )
                )
            created = np.sort(rng.uniform(start, end, 30))
            for seq, when in enumerate(created):
                wait = rng.uniform(0, 2000, per_channel - 1) + 10
                messages.append(
                    pd.DataFrame(
                        {
                            "t_ms": (when + wait).astype(np.int64),
                            "user": [f"u{c}-{k}" for k in range(per_channel - 1)],
                            "n": seq,
                            "latency_ms": wait,
                            "channel": f"ch{c}",
                            "seq": i * 1000 + seq,
                        }
                    )
                )
    data = RunData(
        run_id=run_id,
        steps=pd.DataFrame(steps),
        samples={
            "poll": pd.concat(polls).sort_values("t_ms"),
            "message": pd.concat(messages).sort_values("t_ms"),
        },
        meta={"cache_ttl_s": 0, "price_per_million_usd": 0.5, "warmup_fraction": 0.25},
    )
    save_run_data(data, reports_dir=reports_dir)
    return data


def test_recorded_run_from_a_report_folder(tmp_path: Path) -> None:
    make_run_folder(tmp_path)
    run = load_recorded_run("rec", reports_dir=tmp_path, capacity_rps=100.0)
    assert run.channel_users.tolist() == [[4.0, 4.0], [8.0, 8.0]]
    assert run.cache_mode == "fresh" and run.price_per_million_usd == 0.5
    out = evaluate_policy(run, PRESETS["fixed-2s"])
    # 4 then 8 users per channel, 2 channels, one poll per 2 s each
    assert out["poll_rate_rps"] == pytest.approx((8 / 2 + 16 / 2) / 2, rel=0.01)
    assert out["delivery_mean_ms"] == pytest.approx(1000 + 13, rel=0.03)
    steps_only = load_recorded_run("rec", reports_dir=tmp_path, capacity_rps=100.0, steps=[1])
    assert steps_only.channel_users.tolist() == [[8.0, 8.0]]


def pollcap(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_bad_grid_exits_2_with_one_line(tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"default_ms": "fast"}))
    done = pollcap("sweep", "--synthetic", "--grid", str(grid), cwd=tmp_path)
    assert done.returncode == 2
    assert "must be a list" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    done = pollcap("sweep", "--synthetic", "--grid", str(broken), cwd=tmp_path)
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    done = pollcap("sweep", "--run", "nope", "--reports-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "no report folder" in done.stderr


def test_cli_sweep_on_a_run_writes_a_policy_the_service_loads(tmp_path: Path) -> None:
    make_run_folder(tmp_path)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(SMALL_GRID))
    out = tmp_path / "policy.json"
    done = pollcap(
        "sweep",
        "--run",
        "rec",
        "--reports-dir",
        str(tmp_path),
        "--grid",
        str(grid),
        "--capacity-rps",
        "100",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Pareto front" in done.stdout
    policy = load_policy(str(out))
    assert (tmp_path / "rec" / "sweep" / "pareto.png").is_file()
    from target_service.settings import Settings

    assert Settings(policy=str(out)).policy == str(out)  # the service accepts it as --policy
    assert policy.name in (tmp_path / "rec" / "sweep" / "results.csv").read_text()
