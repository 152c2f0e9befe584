"""The service's own load for the interval policy: its CPU use over the last seconds, 0..1.

Sampled by the background loop from ``os.times()`` (user + system CPU of this process),
so a poll reads a float instead of making a system call. 1.0 means one core fully busy,
which is what a single-threaded uvicorn worker can use.
"""

from __future__ import annotations

import os
import time
from collections import deque


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class LoadMeter:
    def __init__(self, *, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self.load = 0.0
        self.sample()

    def sample(self) -> float:
        now = time.monotonic()
        self._samples.append((now, _cpu_s()))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        if t1 > t0:
            self.load = min(1.0, max(0.0, (c1 - c0) / (t1 - t0)))
        return self.load
