"""``target_service.bench.run``: the service bench on a tiny budget, every scenario measured."""

from __future__ import annotations

import pytest

from target_service.bench.run import bench_service
from target_service.bench.table import format_result
from target_service.embedded.stack import StackInfo


@pytest.mark.slow
def test_bench_measures_all_scenarios(clean_backends: StackInfo) -> None:
    result = bench_service(duration_s=1, rounds=1, connections=4,
                           redis_url=clean_backends.redis_url,
                           database_url=clean_backends.database_url)
    figures = result.rounds[0]
    assert set(figures) == {"ping", "poll_empty", "poll_20", "post"}
    for name, run in figures.items():
        assert run["rps"] > 0, name
        assert set(run["statuses"]) <= {"200", "201"}, (name, run["statuses"])
        assert run["cpu_us_per_request"] > 0
    table = format_result(result)
    assert "poll_empty" in table and "x ping" in table
    assert set(result.verdicts()) == {"poll_empty", "poll_20", "post"}
