"""``RunData``: everything a capacity report is built from, and its folder on disk.

The runner fills one ``RunData`` in memory and calls ``save_run_data`` (then
``report.build_report``); ``pollcap report <run-id>`` loads the same folder
back, so a report can be rebuilt (or re-analysed with another SLO) at any time.

``reports/<run-id>/``
  ``meta.json``       run inputs and context (keys in ``META_KEYS``; extras kept)
  ``steps.csv``       one row per step: ``users, start_ms, end_ms`` (epoch ms), and
                      optionally counts over ``[start_ms, end_ms)``: ``requests,
                      failures, lost, duplicated, redis_ops, pg_queries``
  ``resources.csv``   service samples: ``t_ms, cpu_percent`` (100 = one core), ``rss_bytes``
  ``samples/{poll,message,notification}.parquet``  raw samples (``collect``)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.collect import load_samples, write_samples
from analysis.defaults import REPORTS_DIR  # noqa: E402  (re-exported)
from analysis.model.stats import STEP_COLUMNS, steps_frame
from target_service.errors import UserError

RESOURCE_COLUMNS: tuple[str, ...] = ("t_ms", "cpu_percent", "rss_bytes")
META_KEYS: dict[str, str] = {
    "slo_p95_ms": "p95 delivery latency SLO in ms (default 3000)",
    "target_users": "users the SLO must hold at (exit code 1 when it does not)",
    "headroom": "fraction of SLO capacity an instance is planned at (default 0.7)",
    "price_per_million_usd": "request price per million (default 0.20)",
    "policy": "interval policy name",
    "nominal_interval_ms": "the policy's interval at the measured load, if fixed",
    "cache_ttl_s": "response cache TTL in s (source design: 5); 0/None = no cache",
    "warmup_fraction": "share of each step dropped as warm-up (default 0.25)",
    "started_at_ms": "run start, epoch ms",
    "ended_at_ms": "run end, epoch ms",
    "host": "target host",
    "service_cores": "cores given to the service",
    "stop_reason": "why the ramp stopped (saturation rule or max users)",
}


@dataclass
class RunData:
    """Inputs of one report; see the module docstring for each part's columns."""

    run_id: str
    steps: pd.DataFrame
    samples: dict[str, pd.DataFrame]
    resources: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: [] for c in RESOURCE_COLUMNS}))
    meta: dict[str, Any] = field(default_factory=dict)


def run_dir(run_id: str, *, reports_dir: Path = REPORTS_DIR) -> Path:
    return reports_dir / run_id


def save_run_data(data: RunData, *, reports_dir: Path = REPORTS_DIR) -> Path:
    """Write the folder; returns it."""
    folder = run_dir(data.run_id, reports_dir=reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps(data.meta, indent=2, default=str))
    data.steps.to_csv(folder / "steps.csv", index=False)
    data.resources.to_csv(folder / "resources.csv", index=False)
    write_samples(data.samples, samples_dir=folder / "samples")
    return folder


def load_run_data(run_id: str, *, reports_dir: Path = REPORTS_DIR) -> RunData:
    """Read a report folder; a missing folder or steps.csv is a UserError."""
    folder = run_dir(run_id, reports_dir=reports_dir)
    if not folder.is_dir():
        raise UserError(f"no report folder {folder} (run `pollcap capacity` first, or pass "
                        "--reports-dir)")
    steps_path = folder / "steps.csv"
    if not steps_path.is_file():
        raise UserError(f"{steps_path} is missing; cannot rebuild the report")
    try:
        steps = steps_frame(pd.read_csv(steps_path))
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"{steps_path}: {exc} (need columns {', '.join(STEP_COLUMNS)})") from exc
    return RunData(
        run_id=run_id,
        steps=steps,
        samples=load_samples(samples_dir=folder / "samples"),
        resources=_read_resources(folder / "resources.csv"),
        meta=_read_meta(folder),
    )


def _read_resources(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame({c: [] for c in RESOURCE_COLUMNS})
    frame = pd.read_csv(path)
    missing = [c for c in RESOURCE_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}")
    return frame.sort_values("t_ms", kind="stable").reset_index(drop=True)


def _read_meta(folder: Path) -> dict[str, Any]:
    """``meta.json``, else the ``inputs`` a previous ``summary.json`` recorded, else empty."""
    for name, key in (("meta.json", None), ("summary.json", "inputs")):
        path = folder / name
        if path.is_file():
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} is not valid JSON: {exc}") from exc
            return dict(doc.get(key, {}) if key else doc)
    return {}
