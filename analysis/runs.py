"""``RunData``: everything a capacity report is built from, and its folder on disk.

The runner fills one ``RunData`` in memory and calls ``save_run_data`` (then
``report.build_report``); ``pollcap report <run-id>`` loads the same folder
back, so a report can be rebuilt (or re-analysed with another SLO) at any time.

``reports/<run-id>/``
  ``meta.json``       run inputs and context (keys in ``META_KEYS``; extras kept)
  ``steps.csv``       one row per step: ``users, start_ms, end_ms`` (epoch ms), and
                      optionally counts over ``[start_ms, end_ms)``: ``requests,
                      failures, lost, duplicated, redis_ops, pg_queries, polls``
  ``resources.csv``   service samples: ``t_ms, cpu_percent`` (100 = one core), ``rss_bytes``
                      (and ``push_*`` counters of a push run, ``analysis.capacity.push_probe``)
  ``samples/{poll,message,notification}.parquet``  raw samples as read from Redis by
                      :mod:`loadtests.recording.samples` (``SAMPLE_COLUMNS`` there)

Older folders are still read: a ``meta.json`` whose ``policy`` is the service's interval
policy (now ``service_policy``; ``client_policy`` is the users' pacing).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS, REPORTS_DIR
from analysis.model.stats import STEP_COLUMNS, steps_frame
from loadtests.recording.samples import SAMPLE_TYPES, empty_samples
from loadtests.recording.samples import _typed as typed_samples  # the dtypes of its reader
from target_service.errors import UserError

RESOURCE_COLUMNS: tuple[str, ...] = ("t_ms", "cpu_percent", "rss_bytes")
META_KEYS: dict[str, str] = {
    "slo_p95_ms": f"p95 delivery latency SLO in ms (default {PLAN_DEFAULTS.slo_p95_ms:g})",
    "target_users": "users the SLO must hold at (exit code 1 when it does not)",
    "headroom": f"fraction of SLO capacity an instance is planned at (default "
    f"{PLAN_DEFAULTS.headroom:g})",
    "price_per_million_usd": f"request price per million (default "
    f"{PLAN_DEFAULTS.price_per_million_usd:.2f})",
    "service_policy": "the service's interval policy (preset name or JSON file)",
    "client_policy": "how the users paced their polls (preset, JSON file or 'server')",
    "nominal_interval_ms": "the policy's interval at the measured load, if fixed",
    "cache_mode": "the service's cache mode: fresh or seed",
    "cache_ttl_s": "response cache TTL in s (the service's seed_ttl_s); 0/None = no cache",
    "warmup_fraction": f"share of each step dropped as warm-up (default "
    f"{PLAN_DEFAULTS.warmup_fraction:g})",
    "started_at_ms": "run start, epoch ms",
    "ended_at_ms": "run end, epoch ms",
    "host": "target host",
    "service_cores": "cores given to the service",
    "service_workers": "uvicorn workers of the service",
    "setup": "one line: service workers and cores, Locust processes and cores",
    "setup_note": "why figures may be a lower bound (generator and service sharing cores)",
    "generator_steps": "per step and Locust process: users, process, polls, polls_per_s",
    "stop_reason": "why the ramp stopped (knee found, SLO crossing refined, saturation "
    "rule, --max-users or the time cap)",
    "ramp": "knee (the live knee-finding ramp) or fixed (the planned step table alone)",
    "knee_phases": "per measured step of a knee ramp: users and phase (planned, extend, "
    "refine)",
    "knee_decisions": "per step of a knee ramp: the figures its decision read (the step "
    "table's requests_per_s, error_rate, delivery_p95_ms, generator_saturated)",
    "knee_recoveries": "per recovery pause of a knee ramp (before a refinement that follows "
    "an overloaded step): the users held and its epoch-ms span",
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
    (folder / "meta.json").write_text(json.dumps(jsonable(data.meta), indent=2, default=str))
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
            return _renamed(dict(doc.get(key, {}) if key else doc))
    return {}


def _renamed(meta: dict[str, Any]) -> dict[str, Any]:
    """Old meta keys under today's names (``policy`` was the service policy in reports/)."""
    if "policy" in meta and "service_policy" not in meta:
        meta["service_policy"] = meta.pop("policy")
    return meta


def write_samples(frames: dict[str, pd.DataFrame], *, samples_dir: Path) -> list[Path]:
    """Write ``samples/{type}.parquet`` for each frame; returns the paths written."""
    samples_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for sample_type, frame in frames.items():
        path = samples_dir / f"{sample_type}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def load_samples(*, samples_dir: Path) -> dict[str, pd.DataFrame]:
    """Read every ``{type}.parquet`` present; missing types come back empty."""
    frames = {t: empty_samples(t) for t in SAMPLE_TYPES}
    for path in sorted(samples_dir.glob("*.parquet")):
        frames[path.stem] = typed_samples(pd.read_parquet(path))
    return frames


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
