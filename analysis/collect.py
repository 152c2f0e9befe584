"""Load-test samples from Redis sorted sets into pandas, and to/from Parquet.

The writers (Locust users) store one sorted-set member per sample under
``metrics:{run}:{type}:latency`` with the event time in ms as the score; the
member layouts are fixed by docs/internals.md (see ``SAMPLE_COLUMNS``).

The Redis reader itself (a Lua page reader, ~2 s for 1M samples) lives in
:mod:`loadtests.recording.samples`, the layer that writes the keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import redis

from loadtests.recording.samples import (  # noqa: F401  (re-exported for analysis callers)
    COLUMN_DTYPES,
    MEMBER_FIELDS,
    PAGE_SIZE,
    SAMPLE_TYPES,
    _typed,
    empty_samples,
    parse_blob,
    read_samples,
    sample_columns,
    sample_key,
)

COLLECT_TARGET_S = 3.0


def read_run(
    client: redis.Redis, *, run_id: str, sample_types: Iterable[str] = SAMPLE_TYPES
) -> dict[str, pd.DataFrame]:
    """Every sample type of a run, keyed by type."""
    return {t: read_samples(client, run_id=run_id, sample_type=t) for t in sample_types}


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
        frames[path.stem] = _typed(pd.read_parquet(path))
    return frames


def bench_collect(redis_url: str, n: int = 1_000_000) -> dict[str, float | int | bool]:
    """Write ``n`` synthetic message samples, time reading them back into pandas.

    Uses its own run id and deletes the key afterwards; returns seconds and the
    ratio to the 3 s target (``ratio_to_target`` < 1 is within target).
    """
    client = redis.Redis.from_url(redis_url)
    run_id = f"bench-collect-{time.time_ns()}"
    key = sample_key(run_id=run_id, sample_type="message")
    try:
        started = time.perf_counter()
        _write_synthetic(client, key=key, n=n)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        frame = read_samples(client, run_id=run_id, sample_type="message")
        read_s = time.perf_counter() - started
    finally:
        client.delete(key)
        client.close()
    return {
        "samples": len(frame),
        "write_s": round(write_s, 3),
        "read_s": round(read_s, 3),
        "target_s": COLLECT_TARGET_S,
        "ratio_to_target": round(read_s / COLLECT_TARGET_S, 3),
        "ok": len(frame) == n and read_s <= COLLECT_TARGET_S,
    }


def _write_synthetic(client: redis.Redis, *, key: str, n: int, batch: int = 20_000) -> None:
    """``n`` message samples, 500 users, gamma-distributed latency, 100 samples per ms."""
    rng = np.random.default_rng(0)
    latency_ms = np.round(rng.gamma(2.0, 500.0, n), 3)
    t0_ms = int(time.time() * 1000)
    for lo in range(0, n, batch):
        idx = range(lo, min(n, lo + batch))
        members = {
            f"u{i % 500}:{i // 500}:{latency_ms[i]}:c{i % 20}:{i // 20}": t0_ms + i // 100
            for i in idx
        }
        client.zadd(key, members)
