"""Where a Locust process's schedule slips: hub lag, garbage-collector pauses.

One process runs thousands of greenlets on one gevent hub; a poll is late when
the hub wakes its greenlet late. Two things stall the hub without showing up as
"CPU-bound": long stretches of Python that never yield (a big recorder flush,
Locust's own stats work) and cyclic-GC passes over every live object (10,000 users
are millions of objects). :class:`LoopLag` measures the first from inside, a
sentinel greenlet that asks to wake every ``period_s`` and records how late it
woke; :class:`GcPauses` times every collection through ``gc.callbacks``.
:func:`tune_gc` is the fix for the second: freeze the objects alive after the
ramp (users, their sockets and state) so full collections skip them.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import numpy as np

LAG_PERIOD_S = 0.05
GC_THRESHOLD_GEN0 = 50_000  # objects allocated between young collections (CPython: 700)


@dataclass
class LoopLag:
    """Samples how late the hub wakes a greenlet that sleeps ``period_s`` (ms)."""

    period_s: float = LAG_PERIOD_S
    lags_ms: list[float] = field(default_factory=list)
    _loop: Any = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            gevent.sleep(self.period_s)
            self.lags_ms.append((time.perf_counter() - asked - self.period_s) * 1000.0)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)
            self._loop = None

    def summary(self) -> dict[str, float | int]:
        return lag_summary(self.lags_ms)


def lag_summary(lags_ms: list[float]) -> dict[str, float | int]:
    """p50/p99/max hub lag and the share of time spent over 100 ms late (pure)."""
    if not lags_ms:
        return {"samples": 0}
    values = np.asarray(lags_ms)
    p50, p99 = np.percentile(values, [50, 99])
    return {
        "samples": int(values.size),
        "p50_ms": round(float(p50), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(values.max()), 1),
        "over_100ms": int((values > 100).sum()),
    }


@dataclass
class GcPauses:
    """Duration of every cyclic-GC pass, per generation, via ``gc.callbacks``."""

    pauses_ms: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    _started: float = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms[info["generation"]].append((time.perf_counter() - self._started) * 1e3)

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for generation, pauses in self.pauses_ms.items():
            out[f"gen{generation}"] = {
                "count": len(pauses),
                "total_ms": round(sum(pauses), 1),
                "max_ms": round(max(pauses), 1) if pauses else 0.0,
            }
        return out


def tune_gc() -> None:
    """Fewer, cheaper collections: young passes every 50k allocations, and the objects
    alive now moved out of the collector's sight (``gc.freeze``). Called at start and
    again when the ramp completes; what the users allocate afterwards stays collectable."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD_GEN0, gen1, gen2)


@dataclass
class ProcessHealth:
    """Both monitors of one Locust process, started at test start, read at test stop."""

    lag: LoopLag = field(default_factory=LoopLag)
    gc_pauses: GcPauses = field(default_factory=GcPauses)

    def start(self) -> None:
        self.lag.start()
        self.gc_pauses.start()

    def stop(self) -> dict[str, Any]:
        self.lag.stop()
        self.gc_pauses.stop()
        return {"hub_lag": self.lag.summary(), "gc": self.gc_pauses.summary()}
