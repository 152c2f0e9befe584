"""Socket I/O for the lean connection under gevent, without a timer per wait.

gevent's cooperative socket starts a :class:`gevent.Timeout` (a libev timer, created,
started and closed) for every ``recv`` that has to wait, and its ``sendall`` and
``recv`` go through three Python layers each. A poll waits once per request, so at
5,000 polls/s that is 5,000 timers a second: about a tenth of a Locust process's CPU
(py-spy on ``pollcap bench-swarm --users 10000``).

:class:`GreenIO` talks to the gevent socket's own non-blocking socket and read/write
watchers (``hub.wait``: no timer), and one :class:`Deadlines` per hub enforces the
request timeout instead: a repeating timer that every :data:`SWEEP_S` throws
``TimeoutError`` into the requests past their deadline (``Hub.cancel_wait``). A timeout
fires between ``timeout_s`` and ``timeout_s + SWEEP_S`` after the request started.
Closing the gevent socket still wakes a waiter with gevent's own error, as before.

Only plain gevent sockets take this path (:func:`green_io`); TLS sockets and an
unpatched ``socket`` module keep their usual timeout-per-call I/O.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from gevent.socket import socket as gevent_socket
from gevent.ssl import SSLSocket

SWEEP_S = 0.25  # how often request deadlines are checked


class Deadlines:
    """The requests in flight on one gevent hub, and the timer that times them out."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.inflight: dict[GreenIO, float] = {}  # -> monotonic deadline (s)
        self.timer = hub.loop.timer(SWEEP_S, SWEEP_S, ref=False)  # never keeps the loop alive
        self.timer.start(self.sweep)

    def sweep(self) -> None:
        """Run by the hub: time out every request past its deadline."""
        now = time.monotonic()
        expired = [io for io, deadline in self.inflight.items() if deadline <= now]
        for io in expired:
            self.inflight.pop(io, None)
            io.expire()


_DEADLINES: weakref.WeakKeyDictionary[Any, Deadlines] = weakref.WeakKeyDictionary()


def deadlines_for(hub: Any) -> Deadlines:
    found = _DEADLINES.get(hub)
    if found is None:
        found = _DEADLINES[hub] = Deadlines(hub)
    return found


class GreenIO:
    """Send and receive on one gevent socket's raw non-blocking socket (module docstring)."""

    __slots__ = ("hub", "raw", "read_event", "write_event", "deadlines", "timeout_s",
                 "__weakref__")

    def __init__(self, sock: Any, *, timeout_s: float) -> None:
        self.hub = sock.hub
        self.raw = sock._sock  # the non-blocking _socket.socket gevent's socket wraps
        self.read_event = sock._read_event
        self.write_event = sock._write_event
        self.deadlines = deadlines_for(self.hub)
        self.timeout_s = timeout_s

    def begin(self) -> None:
        """A request starts: its deadline is ``timeout_s`` from now."""
        self.deadlines.inflight[self] = time.monotonic() + self.timeout_s

    def end(self) -> None:
        self.deadlines.inflight.pop(self, None)

    def expire(self) -> None:
        error = TimeoutError(f"timed out after {self.timeout_s:g} s")
        self.hub.cancel_wait(self.read_event, error)
        self.hub.cancel_wait(self.write_event, error)

    def sendall(self, data: bytes) -> None:
        try:
            sent = self.raw.send(data)  # a request fits the socket's free buffer: one call
        except BlockingIOError:
            sent = 0
        if sent < len(data):  # a big body, or a full buffer: the rest as it drains
            self._send_rest(memoryview(data)[sent:])

    def _send_rest(self, view: memoryview) -> None:
        raw = self.raw
        while view:
            try:
                view = view[raw.send(view):]
            except BlockingIOError:
                self.hub.wait(self.write_event)

    def wait_readable(self) -> None:
        """Wait until the socket has something to read. Right after a request the answer
        is not there yet: reading first would cost a failed ``recv`` and its exception."""
        self.hub.wait(self.read_event)

    def recv(self, size: int) -> bytes:
        raw = self.raw
        while True:
            try:
                return raw.recv(size)
            except BlockingIOError:
                self.hub.wait(self.read_event)


def green_io(sock: Any, *, timeout_s: float) -> GreenIO | None:
    """A :class:`GreenIO` for a plain gevent socket; None for any other socket."""
    if not isinstance(sock, gevent_socket) or isinstance(sock, SSLSocket):
        return None
    if getattr(sock, "_read_event", None) is None or getattr(sock, "_sock", None) is None:
        return None  # a gevent whose socket internals moved: the usual path
    return GreenIO(sock, timeout_s=timeout_s)
