"""Collecting a run's samples from Redis, and the collect benchmark.

The writers (Locust users) store one sorted-set member per sample under the run's
keys; the reader itself (raw ZRANGE pages parsed by numpy and Arrow, ~0.7 s for 1M
samples here) lives in :mod:`loadtests.recording.samples`, the layer that writes them.
Writing and reading the samples of a run folder (Parquet) is :mod:`analysis.runs`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd
import redis

from loadtests.recording.samples import SAMPLE_TYPES, read_samples, sample_key

COLLECT_TARGET_S = 1.0  # 1M samples from Redis to pandas (issue 14)


def read_run(
    client: redis.Redis, *, run_id: str, sample_types: Iterable[str] = SAMPLE_TYPES
) -> dict[str, pd.DataFrame]:
    """Every sample type of a run, keyed by type."""
    return {t: read_samples(client, run_id=run_id, sample_type=t) for t in sample_types}


def bench_collect(redis_url: str, n: int = 1_000_000) -> dict[str, float | int | bool]:
    """Write ``n`` synthetic message samples, time reading them back into pandas.

    Uses its own run id and deletes the key afterwards; returns seconds and the
    ratio to the 1 s target (``ratio_to_target`` < 1 is within target).
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
