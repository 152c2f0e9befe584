"""``target_service.periodic``: the samplers' one thread: baseline, samples, prompt stop."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

from target_service.periodic import PeriodicSampler


@dataclass
class Counting(PeriodicSampler):
    thread_name: ClassVar[str] = "counting"
    interval_s: float = 0.02
    calls: list[str] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)

    def _first_sample(self) -> None:
        self.calls.append("first")

    def _sample(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls.append("sample")


def test_a_baseline_then_samples_in_the_named_thread_until_stopped() -> None:
    sampler = Counting()
    sampler._start_sampling()
    deadline_s = time.monotonic() + 5.0
    while sampler.calls.count("sample") < 3 and time.monotonic() < deadline_s:
        time.sleep(0.01)
    assert sampler._stop_sampling() is True
    settled = len(sampler.calls)
    time.sleep(3 * sampler.interval_s)
    assert len(sampler.calls) == settled  # nothing after the stop
    assert sampler.calls[0] == "first" and sampler.calls.count("first") == 1
    assert sampler.calls.count("sample") >= 3
    assert sampler.threads == {"counting"}


def test_stop_wakes_the_wait_instead_of_sleeping_out_the_interval() -> None:
    sampler = Counting(interval_s=60.0)
    sampler._start_sampling()
    started_s = time.monotonic()
    assert sampler._stop_sampling() is True
    assert time.monotonic() - started_s < 2.0
    assert sampler.calls == ["first"]


def test_stop_without_a_start_says_so_and_a_sampler_restarts() -> None:
    sampler = Counting(interval_s=60.0)
    assert sampler._stop_sampling() is False
    sampler._start_sampling()
    assert sampler._stop_sampling() is True
    sampler._start_sampling()  # a fresh event: the second run is not stopped already
    time.sleep(0.05)
    thread = sampler._thread
    assert thread is not None and thread.is_alive()
    assert sampler._stop_sampling() is True and not thread.is_alive()
