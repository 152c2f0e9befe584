"""Reading a run's samples and counters back out of Redis, and the summary maths.

Readers page through ``ZRANGE key min max BYSCORE WITHSCORES LIMIT off n`` so a
run with millions of samples never arrives in one reply. Parsing returns numpy
arrays; percentiles are pure functions over them, apart from any output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from loadtests.recorder import COUNTER_FIELDS, counters_key, latency_key

PAGE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Samples:
    """One sample type of one run: receive times, users, sample numbers, latencies."""

    t_ms: np.ndarray
    user: list[str]
    n: np.ndarray
    latency_ms: np.ndarray
    channel: list[str]
    seq: np.ndarray

    def __len__(self) -> int:
        return len(self.t_ms)


def read_samples(client: redis.Redis, *, run_id: str, sample_type: str) -> Samples:
    """All samples of one type of one run, in receive-time order."""
    key = latency_key(run_id, sample_type)
    t_ms: list[float] = []
    user: list[str] = []
    n: list[int] = []
    lat: list[float] = []
    channel: list[str] = []
    seq: list[int] = []
    offset = 0
    while True:
        page: Any = client.zrange(
            key, "-inf", "+inf", byscore=True, withscores=True, offset=offset, num=PAGE_SIZE
        )
        for member, score in page:
            parts = (member.decode() if isinstance(member, bytes) else member).split(":")
            t_ms.append(float(score))
            user.append(parts[0])
            n.append(int(parts[1]))
            lat.append(float(parts[2]))
            channel.append(parts[3] if len(parts) > 3 else "")
            seq.append(int(parts[4]) if len(parts) > 4 else 0)
        if len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    return Samples(
        t_ms=np.asarray(t_ms, dtype=np.float64),
        user=user,
        n=np.asarray(n, dtype=np.int64),
        latency_ms=np.asarray(lat, dtype=np.float64),
        channel=channel,
        seq=np.asarray(seq, dtype=np.int64),
    )


def read_counters(client: redis.Redis, *, run_id: str) -> dict[str, int]:
    """The run's counters hash, every known field present (0 when never incremented)."""
    raw = client.hgetall(counters_key(run_id))
    counters = {field: 0 for field in COUNTER_FIELDS}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else field
        counters[name] = int(value)
    return counters


def percentiles_ms(latency_ms: np.ndarray) -> dict[str, float | None]:
    """p50/p95/p99/max in ms (None when there are no samples), rounded to 0.1 ms."""
    if latency_ms.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
    return {
        "p50": round(float(p50), 1),
        "p95": round(float(p95), 1),
        "p99": round(float(p99), 1),
        "max": round(float(latency_ms.max()), 1),
    }
