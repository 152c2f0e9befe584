"""``WebSocketProvider``: one connection per tab to ``/api/realtime/ws``, many channels.

Frames are the issue's contract (JSON text): ``subscribe`` (``after`` = the last
``seq`` seen, ``null`` the first time: live from the ``latest`` the server reports),
``unsubscribe``, ``send`` (answered by ``ack`` with the committed message, or
``error`` with the same ``ref``); the server sends ``subscribed``, ``message``,
``notification``, ``pong`` and ``error``.

After a drop every channel is subscribed again with ``after`` = its highest ``seq``
seen, so the server replays what was missed; messages up to the ``latest`` of that
new ``subscribed`` frame are the *resumed* ones, and the stream counts as resumed when
every channel's ``subscribed`` is back. The reader greenlet runs
:func:`~loadtests.clients.providers.push.connection_loop`; sends come from the tab's
greenlet on the same socket (writes are serialised in the connection).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import orjson
from gevent.event import AsyncResult, Event

from loadtests.clients.providers.base import (
    Callback,
    Delivery,
    Message,
    ProviderContext,
    RealtimeProvider,
)
from loadtests.clients.providers.push import ForcedDrop, Lifecycle, connection_loop
from loadtests.clients.providers.wsconn import WsClientConnection, WSConnection
from loadtests.clients.sends import NO_ANSWER

WS_PATH = "/api/realtime/ws"
SEND_NAME = "ws send"
REQUEST_TYPE = "WS"
ACK_GRACE_S = 2.0  # a forced drop waits this long at most for the acks of sends in flight
FRAME_REFUSED = 500  # an error frame answering a send: a definite refusal, as an HTTP 500


class FrameError(Exception):
    """The server answered a frame with ``{"op":"error"}``."""


@dataclass(slots=True)
class WsChannel:
    callback: Callback
    after_seq: int | None = None  # None until the first ``subscribed``
    resume_upto: int = 0  # messages up to this seq came by replay after a reconnect
    early: list[Message] = field(default_factory=list)  # before the first ``subscribed``


def ws_url(host: str) -> str:
    """``http://h:p[/prefix]`` -> ``ws://h:p[/prefix]/api/realtime/ws``."""
    base = host.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base[len(http) :] + WS_PATH
    raise ValueError(f"need an http(s):// host, got {host!r}")


class WebSocketProvider(RealtimeProvider):
    """The design's WebSocketProvider (see the module docstring)."""

    name = "websocket"

    def __init__(
        self, ctx: ProviderContext, *, connection: type[WSConnection] = WsClientConnection
    ) -> None:
        super().__init__(ctx)
        self.url = ws_url(ctx.host)
        self.kind = connection
        self.channels: dict[str, WsChannel] = {}
        self.conn: WSConnection | None = None
        self.ready = Event()  # a connection is open (sends wait for it)
        self.pending: dict[str, AsyncResult] = {}
        self.refs = itertools.count(1)
        self.unconfirmed: set[str] = set()
        self.life = Lifecycle(ctx)
        self.reader: gevent.Greenlet | None = None

    # -- RealtimeProvider ------------------------------------------------------------

    def subscribe(self, channel: str, callback: Callback) -> None:
        self.channels[channel] = WsChannel(callback=callback)
        if not self._ensure_reader() and self.conn is not None:
            self._subscribe_frame(channel, self.channels[channel])

    def _ensure_reader(self) -> bool:
        """Start the connection's reader (the first subscribe or send); True if started now."""
        if self.reader is not None:
            return False
        self.reader = gevent.spawn(
            connection_loop, self.life, connect=self._connect, pump=self._pump, close=self._close
        )
        return True

    def unsubscribe(self, channel: str) -> None:
        if self.channels.pop(channel, None) is not None and self.conn is not None:
            self._frame({"op": "unsubscribe", "channel": channel})

    def send_attempt(
        self, channel: str, data: str, *, ref: str | None
    ) -> tuple[int, Message | None]:
        """A ``send`` frame; waits for its ``ack`` (one row ``WS ws send`` in Locust's stats).

        The frame's ``ref`` is the service's idempotency key. An ack is 201, an error frame
        a definite refusal (:data:`FRAME_REFUSED`), no answer ``NO_ANSWER``.
        """
        ref = ref if ref is not None else f"r{next(self.refs)}"
        result: AsyncResult = AsyncResult()
        t0 = time.perf_counter()
        self._ensure_reader()
        try:
            if not self.ready.wait(timeout=self.ctx.timeout_s) or self.conn is None:
                raise ConnectionError("no WebSocket connection")
            self.pending[ref] = result
            self._frame({"op": "send", "channel": channel, "content": data, "ref": ref})
            message: Message = result.get(timeout=self.ctx.timeout_s)
        except Exception as exc:  # timeouts, a dropped connection, an error frame
            self.pending.pop(ref, None)
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            self.ctx.fire(SEND_NAME, elapsed_ms, 0, request_type=REQUEST_TYPE, exception=exc)
            return (FRAME_REFUSED if isinstance(exc, FrameError) else NO_ANSWER), None
        self.ctx.fire(
            SEND_NAME, (time.perf_counter() - t0) * 1000.0, len(data), request_type=REQUEST_TYPE
        )
        return 201, message

    def away(self, *, offline: bool) -> None:
        if offline:
            self.life.go_offline(self.reader)

    def back(self, *, offline: bool) -> None:
        if offline:
            self.life.go_online()

    def close(self) -> None:
        self.channels.clear()
        if self.reader is not None:
            self.reader.kill(block=True, timeout=5)
            self.reader = None

    # -- the connection ----------------------------------------------------------------

    def _connect(self) -> WSConnection:
        conn = self.kind(self.url, headers=self.ctx.auth, timeout_s=self.ctx.timeout_s)
        self.conn = conn
        self.unconfirmed = set(self.channels)
        for channel, state in self.channels.items():
            self._subscribe_frame(channel, state)
        self.ready.set()
        return conn

    def _close(self, conn: WSConnection) -> None:
        self.ready.clear()
        self.conn = None
        for result in self.pending.values():
            result.set_exception(ConnectionError("WebSocket dropped before the ack"))
        self.pending.clear()
        conn.close()

    def _pump(self, conn: WSConnection) -> None:
        try:
            while True:
                self._on_frame(orjson.loads(conn.recv_text()))
        except ForcedDrop:
            # A forced drop proves the delivery resume path; a send in flight would be an
            # unknown outcome (stored, ack lost), so its ack is awaited first (bounded).
            with gevent.Timeout(ACK_GRACE_S, False):
                while self.pending:
                    self._on_frame(orjson.loads(conn.recv_text()))
            raise

    def _frame(self, frame: dict[str, Any]) -> None:
        assert self.conn is not None
        self.conn.send_text(orjson.dumps(frame).decode())

    def _subscribe_frame(self, channel: str, state: WsChannel) -> None:
        self._frame({"op": "subscribe", "channel": channel, "after": state.after_seq})

    # -- frames from the server --------------------------------------------------------

    def _on_frame(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        recv_ms = time.time() * 1000.0
        if op == "message":
            self._on_message(frame["channel"], frame["message"], recv_ms)
        elif op == "subscribed":
            self._on_subscribed(frame["channel"], int(frame["latest"]), recv_ms)
        elif op == "ack":
            result = self.pending.pop(str(frame.get("ref")), None)
            if result is not None:
                result.set(frame["message"])
        elif op == "error":
            result = self.pending.pop(str(frame.get("ref")), None)
            if result is not None:
                result.set_exception(FrameError(str(frame.get("detail"))))
            else:
                self.ctx.count("errors", 1)
        elif op == "notification" and self.notify is not None:
            self.notify(frame["notification"], recv_ms)

    def _on_subscribed(self, channel: str, latest: int, recv_ms: float) -> None:
        state = self.channels.get(channel)
        if state is None:
            return
        self.unconfirmed.discard(channel)
        if not self.unconfirmed:
            self.life.resumed()
        if state.after_seq is None:  # first subscription: live from ``latest``
            state.after_seq = latest
            early, state.early = state.early, []
            state.callback(
                Delivery(channel=channel, messages=early, recv_ms=recv_ms, start_after=latest)
            )
        else:
            state.resume_upto = latest

    def _on_message(self, channel: str, message: Message, recv_ms: float) -> None:
        state = self.channels.get(channel)
        if state is None:
            return  # unsubscribed while in flight
        if state.after_seq is None:
            state.early.append(message)
            return
        seq = int(message["seq"])
        state.after_seq = max(state.after_seq, seq)
        resumed = 1 if seq <= state.resume_upto else 0
        state.callback(
            Delivery(channel=channel, messages=[message], recv_ms=recv_ms, resumed=resumed)
        )
