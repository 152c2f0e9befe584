"""Fixtures of the analysis tests: synthetic runs and report folders built from analysis code.

The synthetic step ramp is :func:`analysis.synthetic.synthetic_capacity_data` (the one the
report bench and the notebooks use); nothing here is measured.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.runs import RunData, save_run_data
from analysis.synthetic import synthetic_capacity_data


@pytest.fixture(scope="session")
def capacity_run_data() -> Callable[..., RunData]:
    """Factory of a synthetic step-ramp ``RunData`` with a known USL shape (seeded)."""
    return synthetic_capacity_data


@pytest.fixture
def small_grid() -> dict[str, Any]:
    """A policy grid of a few dozen policies around the presets."""
    return {
        "threshold_levels": {"above_users": [5, 20], "intervals_ms": [1000, 3000], "max_levels": 1},
        "default_ms": [1000, 2000, 5000],
        "load_threshold": [0.8],
        "load_factor": [1.0, 1.5],
    }


@pytest.fixture
def recorded_run_folder() -> Callable[..., RunData]:
    """Factory writing a two-step report folder with known channels (see ``_run_folder``)."""
    return _run_folder


@pytest.fixture
def pollcap() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``pollcap ARGS`` in a subprocess (exit code, stdout, stderr as a user sees them)."""
    return _pollcap


def _pollcap(*args: str, cwd: Path, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _run_folder(reports_dir: Path, *, run_id: str = "rec") -> RunData:
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
