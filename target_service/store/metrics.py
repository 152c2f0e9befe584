"""The service's own handling time per type, as the source's ``metrics:{type}:latency``.

Samples are kept in memory and written once per ``flush_ms`` with one pipeline
(``ZADD metrics:{type}:latency <time ms> {worker}:{n}:{latency_ms}``; the member is unique
per sample, unlike the source's ``userId:latency``). Above ``max_per_s`` samples per type
per second a uniform reservoir keeps a fair subset, so metrics cost a bounded amount of
Redis work however high the traffic. Each flush trims samples older than the retention.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import cast

import numpy as np

from target_service.store.backends import RedisDown, RedisGuard
from target_service.store.keys import service_latency_key

TYPES = ("message", "notification", "presence")




@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "avgMs": self.avg_ms, "p50Ms": self.p50_ms,
                "p95Ms": self.p95_ms, "p99Ms": self.p99_ms}


def summarise(latencies_ms: np.ndarray) -> LatencySummary:
    if latencies_ms.size == 0:
        return LatencySummary(0, None, None, None, None)
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99])
    return LatencySummary(
        count=int(latencies_ms.size), avg_ms=round(float(latencies_ms.mean()), 3),
        p50_ms=round(float(p50), 3), p95_ms=round(float(p95), 3), p99_ms=round(float(p99), 3),
    )


class LatencyRecorder:
    def __init__(
        self, *, redis: RedisGuard, max_per_s: int, flush_ms: int, retention_s: int,
        enabled: bool = True,
    ) -> None:
        self.redis = redis
        self.enabled = enabled
        self.capacity = max(1, int(max_per_s * flush_ms / 1000))
        self.retention_s = retention_s
        self.worker = f"{os.getpid()}"
        self._n = 0
        self._seen: dict[str, int] = {}
        self._kept: dict[str, list[tuple[float, float]]] = {}
        self.dropped = 0

    def record(self, kind: str, latency_ms: float) -> None:
        if not self.enabled:
            return
        seen = self._seen.get(kind, 0) + 1
        self._seen[kind] = seen
        kept = self._kept.setdefault(kind, [])
        sample = (time.time() * 1000, latency_ms)
        if len(kept) < self.capacity:
            kept.append(sample)
            return
        slot = random.randrange(seen)  # reservoir sampling: every sample equally likely
        if slot < self.capacity:
            kept[slot] = sample
        self.dropped += 1

    async def flush(self) -> None:
        kept, self._kept, self._seen = self._kept, {}, {}
        now_ms = time.time() * 1000
        mappings: dict[str, dict[str, float]] = {}
        for kind, samples in kept.items():
            members: dict[str, float] = {}
            for at_ms, latency_ms in samples:
                self._n += 1
                members[f"{self.worker}:{self._n}:{latency_ms:.3f}"] = at_ms
            mappings[kind] = members
        if not mappings:
            return
        cutoff_ms = now_ms - self.retention_s * 1000

        async def run(r):
            pipe = r.pipeline(transaction=False)
            for kind, members in mappings.items():
                pipe.zadd(service_latency_key(kind), members)
                pipe.zremrangebyscore(service_latency_key(kind), "-inf", f"({cutoff_ms}")
            return await pipe.execute()

        try:
            await self.redis.call(run)
        except RedisDown:
            self.dropped += sum(len(m) for m in mappings.values())


async def read_summary(redis: RedisGuard, *, kind: str, window_s: float) -> LatencySummary:
    """Statistics of the samples of the last ``window_s`` seconds (all workers)."""
    since_ms = time.time() * 1000 - window_s * 1000
    members = await redis.call(
        lambda r: r.zrangebyscore(service_latency_key(kind), f"({since_ms}", "+inf")
    )
    raw = cast(list[bytes], members)
    values = np.array([float(m.rsplit(b":", 1)[1]) for m in raw], dtype=np.float64)
    return summarise(values)
