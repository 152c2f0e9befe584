"""The base of the samplers that read something every ``interval_s`` seconds in a thread.

The capacity run's resource and push samplers and the swarm's service watch all read
from outside the measured processes on a daemon thread woken by an :class:`Event`, so
:meth:`PeriodicSampler._stop_sampling` ends the wait at once instead of sleeping out the
interval. It lives here, beside :mod:`target_service.proc_tree`, because both
``analysis`` and ``loadtests`` may import ``target_service`` (never each other that
way round).
"""

from __future__ import annotations

import threading
from typing import ClassVar

JOIN_TIMEOUT_S = 5.0  # a sample stuck in a read (a slow /metrics) must not hang the stop


class PeriodicSampler:
    """Calls :meth:`_sample` every ``interval_s`` s in a daemon thread, between
    :meth:`_start_sampling` and :meth:`_stop_sampling`.

    Subclasses (plain classes or dataclasses) provide ``interval_s`` and :meth:`_sample`,
    may name the thread (``thread_name``) and may take a baseline reading in the thread
    before the first wait (:meth:`_first_sample`). Their public ``start``/``stop`` (or
    ``__enter__``/``__exit__``) wrap these two calls.
    """

    interval_s: float
    thread_name: ClassVar[str] = "sampler"
    _thread: threading.Thread | None = None
    _stopping: threading.Event | None = None

    def _start_sampling(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stopping,),
                                        name=self.thread_name, daemon=True)
        self._thread.start()

    def _stop_sampling(self) -> bool:
        """Wake the thread and wait (up to ``JOIN_TIMEOUT_S``) for it to end; False if it
        was never started."""
        thread, stopping = self._thread, self._stopping
        if thread is None or stopping is None:
            return False
        stopping.set()
        thread.join(timeout=JOIN_TIMEOUT_S)
        return True

    def _run(self, stopping: threading.Event) -> None:
        self._first_sample()
        while not stopping.wait(self.interval_s):
            self._sample()

    def _first_sample(self) -> None:
        """A baseline reading in the thread, before the first interval (none by default)."""

    def _sample(self) -> None:
        raise NotImplementedError
