"""What every simulated tab shares: its state, and one place for its Locust rows and counts.

:class:`TabBase` holds the tab's connection, session and scenario, and the helpers that
put a request (or a delivery latency) in Locust's stats, an error sample in the run's
recorder and a count in its counters. The tab's parts (:mod:`~loadtests.clients.tab_signup`,
:mod:`~loadtests.clients.tab_notifications`, :mod:`~loadtests.clients.chat_user`) build on it.
"""

from __future__ import annotations

import random
import time

from locust import User

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.names import DELIVERY
from loadtests.clients.providers.base import RealtimeProvider
from loadtests.clients.providers.polling import StatusError
from loadtests.clients.scenario import Scenario
from loadtests.clients.sends import NO_ANSWER
from loadtests.clients.stats_rows import StatsRows
from loadtests.targets.compiled import CompiledTarget, Request, Session


class TabBase(User):
    """A tab's state and its stats helpers; never spawned by itself (``abstract``)."""

    abstract = True

    scn: Scenario
    target: CompiledTarget
    conn: LeanConnection
    rng: random.Random
    rows: StatsRows
    uid: str
    n_err: int
    auth: dict[str, str]
    session: Session
    provider: RealtimeProvider
    delivery_rows: bool

    def _exchange(self, request: Request) -> tuple[int, bytes, Exception | None, float]:
        """One described request on the tab's connection: (status, body, problem, elapsed ms);
        status ``NO_ANSWER`` and the exception as ``problem`` when no answer came."""
        t0 = time.perf_counter()
        try:
            status, body, _ = self.conn.request(request.method.encode(), request.path,
                                                request.headers, body=request.body)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            return NO_ANSWER, b"", exc, (time.perf_counter() - t0) * 1000.0
        return status, body, None, (time.perf_counter() - t0) * 1000.0

    def _request_status(self, name: str, request: Request, *, what: str) -> tuple[int, bytes]:
        """One described request on the tab's connection: (status, body), 0 on I/O errors.

        One row in Locust's stats, marked failed unless its expected status; counts no
        error (callers do). Status ``NO_ANSWER`` (0) when no answer came.
        """
        method = request.method
        status, body, problem, elapsed_ms = self._exchange(request)
        if problem is not None:
            self._fired(name, elapsed_ms, 0, request_type=method, exception=problem)
            return NO_ANSWER, b""
        ok = status in request.expect_status or (
            request.expect_status == (200, 201) and 200 <= status < 300)
        error = None if ok else StatusError(f"{what}: HTTP {status}")
        self._fired(name, elapsed_ms, len(body), request_type=method, exception=error)
        return status, body

    def _fired(
        self,
        name: str,
        elapsed_ms: float,
        length: int,
        *,
        request_type: str = "GET",
        exception: Exception | None = None,
    ) -> None:
        """One row in Locust's stats: a request, or (``DELIVERY``) a delivery latency.

        A failed request (any transport's, ``exception`` set) is also an ``error`` sample.
        """
        if request_type != DELIVERY:
            self._count("requests")
            if exception is not None:
                self._record_error(name, elapsed_ms)
                self.rows.failed(request_type, name, elapsed_ms, length, exception)
                return
        self.rows.ok(request_type, name, elapsed_ms, length)

    def _failed(
        self, name: str, elapsed_ms: float, exc: Exception, *, request_type: str = "GET"
    ) -> None:
        self._fired(name, elapsed_ms, 0, request_type=request_type, exception=exc)
        self._count("errors")

    def _record_error(self, name: str, elapsed_ms: float) -> None:
        """A failed request as an ``error`` sample (per-second error timelines)."""
        rec = self.scn.recorder
        if rec is not None and self.uid:
            self.n_err += 1
            rec.error(
                t_ms=time.time() * 1000.0, user=self.uid, n=self.n_err,
                latency_ms=elapsed_ms, name=name,
            )

    def _count(self, field: str, n: int = 1) -> None:
        if self.scn.recorder is not None:
            self.scn.recorder.count(field, n)
