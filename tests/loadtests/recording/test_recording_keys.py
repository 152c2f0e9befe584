"""The load test's Redis keys: scoped by run, one per sample type, apart from the service's."""

from __future__ import annotations

import re

from loadtests.recording.keys import (
    MEMBER_FIELDS,
    SAMPLE_TYPES,
    ledger_key,
    new_run_id,
    run_counters_key,
    run_live_key,
    run_meta_key,
    run_sends_key,
    run_users_key,
    samples_key,
)

SERVICE_SAMPLES = re.compile(r"metrics:[a-z]+:latency")  # the service's own, unscoped sets


def run_keys(run: str) -> list[str]:
    return [
        *(samples_key(run_id=run, sample_type=t) for t in MEMBER_FIELDS),
        run_counters_key(run_id=run),
        run_meta_key(run_id=run),
        run_live_key(run_id=run),
        run_users_key(run_id=run),
        ledger_key(run_id=run, channel="c1"),
        run_sends_key(run_id=run),
    ]


def test_every_key_is_scoped_by_its_run_and_distinct() -> None:
    first, second = new_run_id(), new_run_id() + "x"
    keys = run_keys(first) + run_keys(second)
    assert len(set(keys)) == len(keys)
    assert all(first in key.split(":") for key in run_keys(first))


def test_samples_keys_follow_the_documented_layout_and_never_look_like_the_services() -> None:
    run = new_run_id()
    assert set(SAMPLE_TYPES) < set(MEMBER_FIELDS)  # error samples are read by chaos runs only
    for sample_type in MEMBER_FIELDS:
        key = samples_key(run_id=run, sample_type=sample_type)
        assert key == f"metrics:{run}:{sample_type}:latency"
        assert not SERVICE_SAMPLES.fullmatch(key)


def test_run_ids_sort_by_time() -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", new_run_id())
