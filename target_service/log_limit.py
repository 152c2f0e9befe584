"""Overload warnings without a flood: the first of each cause, then a summary per interval.

An overloaded worker answers thousands of 503s a second, all for one cause (the pool is
exhausted, PostgreSQL is paused); a line per answer floods the log and costs the CPU the
overload is short of. :class:`LogLimiter` logs the first occurrence of a cause in full,
counts the ones that follow, and writes at most one summary line per ``interval_s`` per
cause ("412 more 503 (pool exhausted) in the last 10 s"). A cause quiet for a whole
interval starts afresh: its next occurrence is logged in full again.

The decision (:meth:`LogLimiter.admit`, :meth:`LogLimiter.due`) is pure on an injected
clock and guarded by a lock, so threads and tasks may share one limiter; the logging
itself happens outside the lock. Summaries are written when the next occurrence arrives
after the interval, and by :meth:`LogLimiter.flush` (the service's background tick and its
shutdown), so the count of a burst that stopped is not lost.

Only overload warnings go through here: a 500 is a bug, and its traceback is logged each
time (``app._server_error``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Summary:
    """``count`` occurrences of ``cause`` were not logged over the last ``span_s`` seconds."""

    cause: str
    count: int
    span_s: float

    def line(self) -> str:
        return f"{self.count} more {self.cause} in the last {self.span_s:.0f} s"


@dataclass
class _Window:
    started_s: float
    suppressed: int = 0


class LogLimiter:
    """Per cause: log the first occurrence, then at most one summary per ``interval_s``."""

    def __init__(
        self, *, interval_s: float = DEFAULT_INTERVAL_S,
        clock_s: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.clock_s = clock_s
        self.logger = logger or logging.getLogger("pollcap.service")
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def admit(self, cause: str) -> bool | Summary:
        """One occurrence of ``cause``: True to log it in full, a :class:`Summary` to log
        instead (the interval passed; it counts this one), False to stay silent."""
        now_s = self.clock_s()
        with self._lock:
            window = self._windows.get(cause)
            if window is None or (now_s - window.started_s >= self.interval_s
                                  and window.suppressed == 0):
                self._windows[cause] = _Window(started_s=now_s)
                return True
            if now_s - window.started_s < self.interval_s:
                window.suppressed += 1
                return False
            summary = Summary(cause=cause, count=window.suppressed + 1,
                              span_s=now_s - window.started_s)
            self._windows[cause] = _Window(started_s=now_s)
            return summary

    def due(self, *, force: bool = False) -> list[Summary]:
        """The summaries whose interval has passed (every pending one with ``force``,
        at shutdown); causes quiet for an interval are forgotten."""
        now_s = self.clock_s()
        summaries: list[Summary] = []
        with self._lock:
            for cause, window in list(self._windows.items()):
                if now_s - window.started_s < self.interval_s and not (
                        force and window.suppressed):
                    continue
                if window.suppressed == 0:
                    del self._windows[cause]
                    continue
                summaries.append(Summary(cause=cause, count=window.suppressed,
                                         span_s=now_s - window.started_s))
                self._windows[cause] = _Window(started_s=now_s)
        return summaries

    def warning(self, cause: str, message: str, *args: object) -> None:
        """``logger.warning(message, *args)`` for the first of ``cause``, else the summary."""
        decision = self.admit(cause)
        if decision is True:
            self.logger.warning(message, *args)
        elif isinstance(decision, Summary):
            self.logger.warning("%s", decision.line())

    def flush(self, *, force: bool = False) -> None:
        """Write the summaries that are due: periodically, and with ``force`` at shutdown."""
        for summary in self.due(force=force):
            self.logger.warning("%s", summary.line())
