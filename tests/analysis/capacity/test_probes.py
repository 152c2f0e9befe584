"""Counter snapshots and live step figures against the real Valkey and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
import redis

from analysis.capacity.knee_loop import step_row
from analysis.capacity.probes import CountersProbe
from analysis.capacity.steps import PROCESS_POLLS_PREFIX, StepWindow
from loadtests.recording.keys import (
    live_polls_field,
    live_users_field,
    run_counters_key,
    run_live_key,
)
from loadtests.recording.samples import read_samples, sample_key
from target_service.embedded.stack import StackInfo


def test_probe_reads_the_users_counters_and_backend_work(
    client: redis.Redis, clean_backends: StackInfo
) -> None:
    client.hset(run_counters_key(run_id="r1"), mapping={"requests": 40, "errors": 2, "lost": 1})
    probe = CountersProbe(client=client, run_id="r1", database_url=clean_backends.database_url)
    first = probe()
    assert (first["requests"], first["failures"], first["lost"], first["duplicated"]) == (
        40.0,
        2.0,
        1.0,
        0.0,
    )
    for i in range(50):  # the service's Redis work between two snapshots
        client.set(f"k{i}", i)
    second = probe()
    # the probe's own HGETALLs + INFO are not counted as the service's work
    assert 50 <= second["redis_ops"] - first["redis_ops"] <= 52
    assert second["pg_queries"] >= first["pg_queries"] > 0


def test_probe_without_a_database_reports_no_pg_queries(client: redis.Redis) -> None:
    assert "pg_queries" not in CountersProbe(client=client, run_id="none")()


def test_probe_gives_each_locust_process_share_of_the_polls(client: redis.Redis) -> None:
    client.hset(run_live_key(run_id="r3"), mapping={
        live_polls_field("h-1"): 7, live_polls_field("h-2"): 5, live_users_field("h-1"): 3})
    counts = CountersProbe(client=client, run_id="r3")()
    assert {k: v for k, v in counts.items() if k.startswith(PROCESS_POLLS_PREFIX)} == {
        f"{PROCESS_POLLS_PREFIX}h-1": 7.0, f"{PROCESS_POLLS_PREFIX}h-2": 5.0}


def test_step_figures_are_the_report_rows_over_samples_read_back(client: redis.Redis) -> None:
    polls = {f"u{i}:{i}:12.5:c0": 1_000 + i * 100 for i in range(100)}  # t = 1.0 .. 10.9 s
    client.zadd(sample_key(run_id="r2", sample_type="poll"), polls)
    messages = {f"u{i}:{i}:{100.0 * (i + 1)}:c0:{i}": 6_000 + i for i in range(20)}
    client.zadd(sample_key(run_id="r2", sample_type="message"), messages)
    window = StepWindow(
        users=10,
        start_ms=0.0,
        end_ms=11_000.0,
        steady_start_ms=2_750.0,
        counts={"requests": 110.0, "failures": 5.5},
    )
    samples = {kind: read_samples(client, run_id="r2", sample_type=kind, start_ms=0,
                                  end_ms=11_000) for kind in ("poll", "message", "notification")}
    figures = step_row(window=window, samples=samples, resources=pd.DataFrame(),
                       inputs={"warmup_fraction": 0.25, "nominal_interval_ms": 2000.0})
    # the report's definition: every request over the whole step (the old live rule
    # counted chat polls over the steady part, so its figures differed from the table's)
    assert figures.requests_per_s == pytest.approx(110 / 11.0)
    assert figures.error_rate == pytest.approx(0.05)
    assert figures.delivery_p95_ms == pytest.approx(1905.0)  # 100..2000 ms, numpy p95
