"""The service's memory growth after warm-up (the soak figure), from RSS samples."""

from __future__ import annotations

import os
import time

from loadtests.swarm.service_watch import ServiceWatch, rss_growth, soak_warmup_s

MB = 2**20


def test_growth_compares_the_first_window_after_warm_up_with_the_last() -> None:
    # 600 s at 1 s: a ramp to 200 MB, flat until 400 s, then 220 MB to the end
    samples = [(float(t), (100 + t) * MB if t < 100 else (200 if t < 400 else 220) * MB)
               for t in range(600)]
    growth = rss_growth(samples, warmup_s=120)
    assert growth["rss_mb_after_warmup"] == 200.0 and growth["rss_mb_end"] == 220.0
    assert growth["rss_growth_pct"] == 10.0
    flat = rss_growth([(float(t), 150 * MB) for t in range(600)], warmup_s=120)
    assert flat["rss_growth_pct"] == 0.0


def test_too_few_samples_after_warm_up_give_no_figure() -> None:
    assert rss_growth([(0.0, MB), (1.0, MB), (2.0, MB)], warmup_s=1.0) == {}


def test_warm_up_covers_the_ramp_and_a_fifth_of_the_run() -> None:
    assert soak_warmup_s(users=1000, spawn_rate=100, duration_s=600) == 120.0
    assert soak_warmup_s(users=1000, spawn_rate=10, duration_s=600) == 130.0


def test_watch_of_this_process_reports_its_memory() -> None:
    with ServiceWatch(lambda: [os.getpid()], interval_s=0.05) as watch:
        blob = bytearray(64 * MB)  # grows this process's RSS while it is watched
        blob[::4096] = b"x" * len(blob[::4096])
        time.sleep(1.0)
    figures = watch.figures(warmup_s=0.0)
    assert figures["measured"] and figures["rss_mb_peak"] > 64
    assert figures["rss_growth_pct"] is not None
    del blob
