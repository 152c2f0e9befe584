"""Capacity runs with a metrics Valkey: samples and counters there, commands counted on the
service's Valkey only (the recorder's load is not the system under test's)."""

from __future__ import annotations

from pathlib import Path

import redis

from analysis.capacity.run import _counters_probe
from target_service.embedded.stack import Stack


def test_probe_counts_the_service_redis_commands_only(tmp_path: Path) -> None:
    with Stack(run_dir=tmp_path / "run", environ={}, metrics_redis=True) as info:
        assert info.metrics_redis_url is not None
        metrics = redis.Redis.from_url(info.metrics_redis_url)
        service = redis.Redis.from_url(info.redis_url)
        probe = _counters_probe(metrics, run_id="r", database_url=None, service_client=service)
        first = probe()["redis_ops"]
        for i in range(25):
            service.set(f"k{i}", i)  # the service's work
            metrics.hincrby("run:r:counters", "polls", 1)  # the recorder's, elsewhere
        second = probe()
        assert second["requests"] == 25.0
        assert second["redis_ops"] - first == 25.0
        metrics.close()
        service.close()
