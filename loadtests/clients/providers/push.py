"""The life of a push connection: open, read until it ends, resume; counted the same way.

Every push transport (long-poll, SSE, WebSocket) runs :func:`connection_loop` on a
reader greenlet of its own. The loop owns what the issue asks to measure for every
transport: ``connects``, ``disconnects``, ``reconnects``, ``forced_drops`` (from
``--reconnect-every``: the connection's lifetime is exponential with that mean and
it is cut mid-read by a ``gevent.Timeout``), the time from a drop until the stream is
resumed (the transport calls :meth:`Lifecycle.resumed` when the server confirmed it),
and the process-wide gauge of open connections. Failed connects back off as
useResilientPolling does (``min(1000*2**n, 30000)`` ms) and never give up: a
subscription that silently stopped would look like a quiet channel, not like loss.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import gevent
from gevent.event import Event

from loadtests.clients.pacing import retry_delay_ms
from loadtests.clients.providers.base import GAUGE, ProviderContext

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_ATTEMPT = 5  # 30 s between attempts from here on
CONNECT_NAME = "connect"  # Locust's row (request type PUSH) of a failed stream open


class ReportedError(ConnectionError):
    """A failure the transport already put in Locust's stats and the error count."""


class ForcedDrop(BaseException):
    """``--reconnect-every``: this connection's lifetime is over.

    A ``BaseException`` (like ``gevent.Timeout``) so that no transport's ``except
    Exception`` mistakes the drop for a network error.
    """


class Offline(BaseException):
    """The tab went offline: drop the connection, resume when back (a BaseException too)."""


@dataclass(slots=True)
class Lifecycle:
    """Counters and timings of one reader's successive connections."""

    ctx: ProviderContext
    dropped_at_s: float | None = None  # set while a dropped stream waits to be resumed
    online: Event = field(default_factory=Event)
    opened_once: bool = False

    def __post_init__(self) -> None:
        self.online.set()

    def opened(self) -> None:
        GAUGE.open_now += 1
        self.ctx.count("connects", 1)
        if self.opened_once:
            self.ctx.count("reconnects", 1)
        self.opened_once = True

    @property
    def resuming(self) -> bool:
        return self.dropped_at_s is not None

    def resumed(self) -> None:
        """The server confirmed the resumed stream: one time-to-reconnect sample."""
        if self.dropped_at_s is not None:
            self.ctx.reconnected((time.time() - self.dropped_at_s) * 1000.0)
            self.dropped_at_s = None

    def closed(self, *, forced: bool) -> None:
        GAUGE.open_now -= 1
        self.ctx.count("disconnects", 1)
        if forced:
            self.ctx.count("forced_drops", 1)
        if self.dropped_at_s is None:
            self.dropped_at_s = time.time()

    def go_offline(self, reader: gevent.Greenlet | None) -> None:
        self.online.clear()
        if reader is not None:
            reader.kill(Offline, block=False)

    def go_online(self) -> None:
        """Back online: time to reconnect counts from now, not from the offline drop."""
        if self.dropped_at_s is not None:
            self.dropped_at_s = time.time()
        self.online.set()


def connection_loop(
    life: Lifecycle,
    *,
    connect: Callable[[], T],
    pump: Callable[[T], None],
    close: Callable[[T], None],
) -> None:
    """Open, pump until the connection ends (or its forced lifetime), close; forever.

    ``connect`` opens and (re)subscribes, raising on failure; ``pump`` reads until the
    connection ends; ``close`` releases it. Killed with :class:`Offline` it waits for
    ``life.online``; killed with ``GreenletExit`` it stops.
    """
    attempt = 0
    while True:
        try:
            life.online.wait()
            handle = connect()
        except Offline:
            continue
        except Exception as exc:  # refused, reset, HTTP errors, bad handshakes
            if not isinstance(exc, ReportedError):
                life.ctx.fire(CONNECT_NAME, 0.0, 0, request_type="PUSH", exception=exc)
                life.ctx.count("errors", 1)
            _backoff(life, attempt)
            attempt = min(attempt + 1, MAX_BACKOFF_ATTEMPT)
            continue
        attempt = 0
        life.opened()
        forced = False
        lifetime_s = life.ctx.drop_in_s()
        try:
            with gevent.Timeout(None if math.isinf(lifetime_s) else lifetime_s, ForcedDrop):
                pump(handle)
        except ForcedDrop:
            forced = True
        except Offline:
            pass
        except Exception as exc:  # the server closed or the network broke: resume
            log.debug("push connection ended: %s", exc)
        finally:
            _close_quietly(close, handle)
            life.closed(forced=forced)


def _close_quietly(close: Callable[[T], None], handle: T) -> None:
    """``close``, even when an offline kill lands while it yields (it is thrown async)."""
    for _ in range(3):
        try:
            close(handle)
            return
        except Offline:
            continue
        except Exception as exc:
            log.debug("closing a push connection failed: %s", exc)
            return


def _backoff(life: Lifecycle, attempt: int) -> None:
    try:
        gevent.sleep(retry_delay_ms(attempt) / 1000)
    except Offline:
        pass
