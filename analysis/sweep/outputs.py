"""Write a sweep's results: tables, the chosen policy and the figure, in ``<run>/sweep/``.

``sweep/results.csv`` every policy (presets first) with its predictions;
``sweep/front.csv`` the Pareto front; ``sweep/policy.json`` the cheapest policy
meeting the SLO (``ThresholdPolicy.to_json``, so ``load_policy`` reads it back);
``sweep/summary.json`` the SLO, counts, presets and pick; ``sweep/pareto.png``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from analysis.sweep.figures import pareto_figure
from analysis.sweep.run import BASELINE_PRESETS, SweepResult

OUTPUT_COLUMNS = (
    "name",
    "preset",
    "requests_per_s",
    "polls_per_s",
    "peak_load",
    "response_ms",
    "delivery_mean_ms",
    "delivery_p50_ms",
    "delivery_p95_ms",
    "delivery_p99_ms",
    "cost_per_month_usd",
    "saturated",
    "pareto",
    "meets_slo",
)


def write_sweep(
    result: SweepResult, *, out_dir: Path, policy_out: Path | None = None
) -> dict[str, Path]:
    """Write every output; returns their paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": out_dir / "results.csv",
        "front": out_dir / "front.csv",
        "summary": out_dir / "summary.json",
        "figure": out_dir / "pareto.png",
    }
    result.table.loc[:, list(OUTPUT_COLUMNS)].to_csv(paths["results"], index=False)
    result.front.loc[:, list(OUTPUT_COLUMNS)].to_csv(paths["front"], index=False)
    paths["figure"].write_bytes(pareto_figure(result))
    if result.best is not None:
        for target in {out_dir / "policy.json", *([policy_out] if policy_out else [])}:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(result.best.to_json() + "\n")
            paths["policy" if target.parent == out_dir else "policy_out"] = target
    paths["summary"].write_text(json.dumps(sweep_summary(result), indent=2) + "\n")
    return paths


def sweep_summary(result: SweepResult) -> dict[str, Any]:
    """JSON-able digest: SLO, counts, the presets' rows and the pick's row."""
    table = result.table.set_index("name")

    def row(name: str) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in table.loc[name].items()}

    return {
        "slo_p95_ms": result.slo_p95_ms,
        "policies": len(table),
        "pareto_points": int(table["pareto"].sum()),
        "meeting_slo": int(table["meets_slo"].sum()),
        "presets": {name: row(name) for name in BASELINE_PRESETS if name in table.index},
        "best": None
        if result.best is None
        else {"policy": result.best.to_dict(), **row(result.best.name)},
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
