"""Recording switched off and on inside one Locust process: what recording costs, measured.

The generator bench's recording share used to compare two swarms run one after the
other, and on a shared machine the CPU a request costs moves by 15 % from one minute
to the next (two runs of the same code here: 64.7 and 74.9 µs for the recording-off
arm), which alone turned a 5 % share into 0.7 % or 12.8 %. Within one process and
a few seconds the drift cancels: after the ramp, recording is on in even windows of
``period_s`` seconds and off in odd ones (aligned to multiples of the period since
the epoch), and the share is read window pair by window pair
(:mod:`loadtests.bench.split`).

"Off" is what ``--no-record`` leaves: the scenario has no recorder, so every sample and
counter is skipped, and the recorder is paused (no timed flush of its live figures). At
each switch the toggle reads the process's own CPU time (``time.process_time``: every
thread, to the ns) and its request count (Locust's stats, deliveries left out): an
:class:`Edge`; windows run from edge to edge. A switch to off first has the recorder
ship what the on window buffered and waits for it, so each on window pays for its own
rows (and its off window for none), where reading every edge a fixed lag late would
mix that lag of each state into the other window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any, Protocol

import gevent

from loadtests.recording.recorder import Recorder


class HasRecorder(Protocol):
    recorder: Recorder | None


def recording_on_at(t_s: float, *, period_s: float) -> bool:
    """Is recording on at epoch time ``t_s`` (even windows on, odd ones off)?"""
    return math.floor(t_s / period_s) % 2 == 0


@dataclass(frozen=True, slots=True)
class Edge:
    """A reading at a switch; ``on``: the window that starts here records."""

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
    ) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        recorder = scenario.recorder
        if recorder is None:
            raise ValueError("a toggle needs a recorder to switch")
        self.scenario = scenario
        self.recorder: Recorder = recorder
        self.period_s = period_s
        self.edges: list[Edge] = []
        self._requests = requests
        self._loop: gevent.Greenlet[Any, Any] | None = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            if self.apply(time.time()):
                self.edges.append(self.reading())
            now = time.time()
            gevent.sleep(max(0.0, (math.floor(now / self.period_s) + 1) * self.period_s - now))

    def apply(self, now_s: float) -> bool:
        """Set the recorder for the window ``now_s`` falls in; True when that was a switch.
        Switching off returns once the on window's rows are shipped (at most half a
        period: a stalled Redis must not stop the switching)."""
        on = recording_on_at(now_s, period_s=self.period_s)
        if on == (self.scenario.recorder is not None):
            return False
        self.scenario.recorder = self.recorder if on else None
        self.recorder.paused = not on
        if not on:
            self.recorder.flush_soon().wait(timeout=self.period_s / 2)
        return True

    def reading(self) -> Edge:
        return Edge(t_s=time.time(), cpu_s=time.process_time(), requests=self._requests(),
                    on=self.scenario.recorder is not None)

    def figures(self) -> dict[str, Any]:
        """The period and every edge as ``[t_s, cpu_s, requests, on]`` (JSON)."""
        return {"period_s": self.period_s, "edges": [list(astuple(edge)) for edge in self.edges]}

    def stop(self) -> None:
        """Stop switching and leave the recorder in place (test stop ships the rest)."""
        if self._loop is not None:
            self._loop.kill(block=True)
            self._loop = None
        self.scenario.recorder = self.recorder
        self.recorder.paused = False
