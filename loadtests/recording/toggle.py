"""Recording switched off and on inside one Locust process: what recording costs, measured.

The generator bench's recording share used to compare two swarms run one after the
other, and on a shared machine the CPU a request costs moves by 15 % from one minute
to the next (two runs of the same code here: 64.7 and 74.9 µs for the recording-off
arm), which alone turned a 5 % share into 0.7 % or 12.8 %. Within one process and
a few seconds the drift cancels: after the ramp, recording is on in even windows of
``period_s`` seconds and off in odd ones (windows aligned to multiples of the period
since the epoch, so the bench, measuring the process's CPU from outside, knows them
without being told), and the share is read window pair by window pair.

"Off" is what ``--no-record`` leaves: the scenario has no recorder, so every sample,
counter and flush is skipped. At each switch to off the recorder flushes at once,
so an on window's last rows are shipped (and paid for) at its end, not a second
into the off window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import gevent

from loadtests.recording.recorder import Recorder


class HasRecorder(Protocol):
    recorder: Recorder | None


def recording_on_at(t_s: float, *, period_s: float) -> bool:
    """Is recording on at epoch time ``t_s`` (even windows on, odd ones off)?"""
    return math.floor(t_s / period_s) % 2 == 0


@dataclass(frozen=True, slots=True)
class ToggleWindow:
    start_s: float
    end_s: float
    on: bool


def toggle_windows(*, start_s: float, end_s: float, period_s: float) -> list[ToggleWindow]:
    """The whole windows inside [start_s, end_s], in time order (pure)."""
    first = math.ceil(start_s / period_s)
    last = math.floor(end_s / period_s)  # the end of the last whole window
    return [
        ToggleWindow(k * period_s, (k + 1) * period_s, k % 2 == 0) for k in range(first, last)
    ]


class RecordingToggle:
    """Switches a scenario's recorder off and on at the window boundaries (a greenlet)."""

    def __init__(self, scenario: HasRecorder, *, period_s: float) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        recorder = scenario.recorder
        if recorder is None:
            raise ValueError("a toggle needs a recorder to switch")
        self.scenario = scenario
        self.recorder: Recorder = recorder
        self.period_s = period_s
        self.switches = 0
        self._loop: gevent.Greenlet[Any, Any] | None = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            self.apply(time.time())
            now = time.time()
            gevent.sleep(max(0.0, (math.floor(now / self.period_s) + 1) * self.period_s - now))

    def apply(self, now_s: float) -> None:
        """Set the recorder for the window ``now_s`` falls in; flush when switching off."""
        on = recording_on_at(now_s, period_s=self.period_s)
        if on == (self.scenario.recorder is not None):
            return
        self.switches += 1
        self.scenario.recorder = self.recorder if on else None
        if not on:
            self.recorder.flush_soon()

    def stop(self) -> None:
        """Stop switching and leave the recorder in place (test stop ships the rest)."""
        if self._loop is not None:
            self._loop.kill(block=True)
            self._loop = None
        self.scenario.recorder = self.recorder
