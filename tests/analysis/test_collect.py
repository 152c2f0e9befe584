"""The collector against the real Valkey of the session stack (1M only in bench-collect)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis

from analysis.collect import read_run
from analysis.runs import load_samples, write_samples
from loadtests.recording.samples import _fetch_plain, parse_blob, read_samples, sample_key

RUN = "collect-test"


def _write_messages(client: redis.Redis, count: int) -> dict[str, int]:
    members = {f"u{i % 7}:{i}:{i * 1.5:.3f}:ch{i % 3}:{1000 + i}": 1_700_000_000_000 + i // 3
               for i in range(count)}
    client.zadd(sample_key(run_id=RUN, sample_type="message"), members)
    return members


def test_reads_every_sample_across_pages_with_types(client: redis.Redis) -> None:
    members = _write_messages(client, 2_345)
    frame = read_samples(client, run_id=RUN, sample_type="message", page_size=500)
    assert len(frame) == len(members)
    assert list(frame.columns) == ["t_ms", "user", "n", "latency_ms", "channel", "seq"]
    assert frame["t_ms"].dtype == np.int64 and frame["n"].dtype == np.int64
    assert frame["t_ms"].is_monotonic_increasing
    row = frame.set_index("n").loc[1234]
    assert (row["user"], row["latency_ms"]) == ("u2", 1851.0)
    assert (row["channel"], row["seq"]) == ("ch1", 2234)
    assert row["t_ms"] == 1_700_000_000_000 + 1234 // 3
    assert frame["n"].is_unique


def test_window_is_inclusive_by_score(client: redis.Redis) -> None:
    _write_messages(client, 300)  # scores t0 .. t0+99, three samples per ms
    t0 = 1_700_000_000_000
    frame = read_samples(client, run_id=RUN, sample_type="message", start_ms=t0 + 10,
                         end_ms=t0 + 19, page_size=7)
    assert len(frame) == 30
    assert (frame["t_ms"].min(), frame["t_ms"].max()) == (t0 + 10, t0 + 19)


def test_plain_zrange_fallback_parses_the_same(client: redis.Redis) -> None:
    _write_messages(client, 1_000)
    key = sample_key(run_id=RUN, sample_type="message")
    plain = parse_blob(_fetch_plain(client, key=key, pages=[(0, 399), (400, 999)]),
                       sample_type="message")
    pd.testing.assert_frame_equal(plain, read_samples(client, run_id=RUN, sample_type="message"))


def test_each_type_has_its_member_layout_and_missing_sets_are_empty(client: redis.Redis) -> None:
    polls = {"u1:0:12.5:general": 5, "u1:1:9:general": 7}
    client.zadd(sample_key(run_id=RUN, sample_type="poll"), polls)
    client.zadd(sample_key(run_id=RUN, sample_type="notification"), {"u9:0:2500.125": 11})
    frames = read_run(client, run_id=RUN)
    assert list(frames["poll"]["latency_ms"]) == [12.5, 9.0]
    assert list(frames["poll"].columns) == ["t_ms", "user", "n", "latency_ms", "channel"]
    assert frames["notification"].iloc[0].to_dict() == {
        "t_ms": 11, "user": "u9", "n": 0, "latency_ms": 2500.125}
    assert frames["message"].empty and list(frames["message"].columns)[-1] == "seq"


def test_parquet_round_trip(client: redis.Redis, tmp_path: Path) -> None:
    _write_messages(client, 50)
    frames = read_run(client, run_id=RUN)
    write_samples(frames, samples_dir=tmp_path / "samples")
    back = load_samples(samples_dir=tmp_path / "samples")
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(back[name], frame, check_dtype=False)
        assert back[name]["t_ms"].dtype == np.int64


def test_unknown_type_is_rejected(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="unknown sample type"):
        read_samples(client, run_id=RUN, sample_type="bogus")
