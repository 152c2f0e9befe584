"""Recording switched off and on inside one Locust process: what recording costs, measured.

The generator bench's recording share used to compare two swarms run one after the
other, and on a shared machine the CPU a request costs moves by 15 % from one minute
to the next (two runs of the same code here: 64.7 and 74.9 µs for the recording-off
arm), which alone turned a 5 % share into 0.7 % or 12.8 %. Within one process and
a few seconds the drift cancels: after the ramp, recording is on in even windows of
``period_s`` seconds and off in odd ones (aligned to multiples of the period since
the epoch), and the share is read window pair by window pair
(:mod:`loadtests.bench.split`).

"Off" is what ``--no-record`` leaves: the scenario has no recorder, so every sample,
counter and flush is skipped. At each switch to off the recorder flushes at once, so
an on window's last rows are shipped at its end, not a second into the off window.
``lag_s`` after each switch, once that flush is done, the toggle reads the process's
own CPU time (``time.process_time``: every thread, to the ns) and its request count
(Locust's stats, deliveries left out): an :class:`Edge`. Windows run from edge to
edge, each a switch plus ``lag_s`` long, so every window pays for its own flush.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any, Protocol

import gevent

from loadtests.recording.recorder import Recorder

EDGE_LAG_S = 0.25  # a switch-off flush of 3 s of rows at 10,000 tabs is shipped well within


class HasRecorder(Protocol):
    recorder: Recorder | None


def recording_on_at(t_s: float, *, period_s: float) -> bool:
    """Is recording on at epoch time ``t_s`` (even windows on, odd ones off)?"""
    return math.floor(t_s / period_s) % 2 == 0


@dataclass(frozen=True, slots=True)
class Edge:
    """A reading ``lag_s`` after a switch; ``on``: the window that starts here records."""

    t_s: float  # epoch s
    cpu_s: float  # the process's CPU time so far
    requests: int  # requests so far (Locust's stats, deliveries left out)
    on: bool


class RecordingToggle:
    """Switches a scenario's recorder off and on at the window boundaries (a greenlet)
    and reads an :class:`Edge` after each switch."""

    def __init__(
        self,
        scenario: HasRecorder,
        *,
        period_s: float,
        requests: Callable[[], int] = lambda: 0,
        lag_s: float = EDGE_LAG_S,
    ) -> None:
        if period_s <= 0 or not 0 <= lag_s < period_s:
            raise ValueError("period_s must be > 0 and lag_s within [0, period_s)")
        recorder = scenario.recorder
        if recorder is None:
            raise ValueError("a toggle needs a recorder to switch")
        self.scenario = scenario
        self.recorder: Recorder = recorder
        self.period_s = period_s
        self.lag_s = lag_s
        self.edges: list[Edge] = []
        self._requests = requests
        self._loop: gevent.Greenlet[Any, Any] | None = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            if self.apply(time.time()):
                gevent.sleep(self.lag_s)
                self.edges.append(self.reading())
            now = time.time()
            gevent.sleep(max(0.0, (math.floor(now / self.period_s) + 1) * self.period_s - now))

    def apply(self, now_s: float) -> bool:
        """Set the recorder for the window ``now_s`` falls in (flushing when switching off);
        True when that was a switch."""
        on = recording_on_at(now_s, period_s=self.period_s)
        if on == (self.scenario.recorder is not None):
            return False
        self.scenario.recorder = self.recorder if on else None
        if not on:
            self.recorder.flush_soon()
        return True

    def reading(self) -> Edge:
        return Edge(t_s=time.time(), cpu_s=time.process_time(), requests=self._requests(),
                    on=self.scenario.recorder is not None)

    def figures(self) -> dict[str, Any]:
        """The period, the lag and every edge as ``[t_s, cpu_s, requests, on]`` (JSON)."""
        return {"period_s": self.period_s, "lag_s": self.lag_s,
                "edges": [list(astuple(edge)) for edge in self.edges]}

    def stop(self) -> None:
        """Stop switching and leave the recorder in place (test stop ships the rest)."""
        if self._loop is not None:
            self._loop.kill(block=True)
            self._loop = None
        self.scenario.recorder = self.recorder
