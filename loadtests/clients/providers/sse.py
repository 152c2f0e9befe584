"""``SSEProvider``: one ``GET /api/realtime/sse`` stream per subscribed channel.

A tab opens like a polling tab (the newest page says where its loss window starts),
then streams with ``after`` = the last ``seq`` shown; after a drop it reconnects with
``Last-Event-ID`` = the last ``seq`` received, as a browser's ``EventSource`` does,
and the server replays what was missed. Messages created before the new stream was
open and received on it are the *resumed* ones; the stream counts as resumed when its
200 head is back. The read timeout is three heartbeats (the service sends one at least
every 15 s), so a dead stream is noticed and resumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import gevent
import orjson

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.providers.base import Callback, Delivery, ProviderContext, RealtimeProvider
from loadtests.clients.providers.pages import fetch_page, last_seq, start_after
from loadtests.clients.providers.push import Lifecycle, connection_loop
from loadtests.clients.providers.stream import EventStream

SSE_PATH = "/api/realtime/sse"
HEARTBEAT_S = 15.0
READ_TIMEOUT_S = 3 * HEARTBEAT_S


@dataclass(slots=True)
class SSEChannel:
    callback: Callback
    life: Lifecycle
    after_seq: int | None = None
    opened_ms: float = 0.0
    reconnected: bool = False
    reader: gevent.Greenlet | None = field(default=None, repr=False)


class SSEProvider(RealtimeProvider):
    """The design's provider over Server-Sent Events (see the module docstring)."""

    name = "sse"

    def __init__(self, ctx: ProviderContext, *, page_limit: int) -> None:
        super().__init__(ctx)
        self.limit = page_limit
        self.channels: dict[str, SSEChannel] = {}

    def subscribe(self, channel: str, callback: Callback) -> None:
        state = SSEChannel(callback=callback, life=Lifecycle(self.ctx))
        state.reader = gevent.spawn(
            connection_loop,
            state.life,
            connect=partial(self._connect, channel, state),
            pump=partial(self._pump, channel, state),
            close=EventStream.close,
        )
        self.channels[channel] = state

    def unsubscribe(self, channel: str) -> None:
        state = self.channels.pop(channel, None)
        if state is not None and state.reader is not None:
            state.reader.kill(block=True, timeout=5)

    def away(self, *, offline: bool) -> None:
        if offline:
            for state in self.channels.values():
                state.life.go_offline(state.reader)

    def back(self, *, offline: bool) -> None:
        if offline:
            for state in self.channels.values():
                state.life.go_online()

    def close(self) -> None:
        for channel in list(self.channels):
            self.unsubscribe(channel)

    def _connect(self, channel: str, state: SSEChannel) -> EventStream:
        headers = dict(self.ctx.auth)
        if state.after_seq is None:
            conn = LeanConnection(self.ctx.host, timeout_s=self.ctx.timeout_s)
            try:
                messages, recv_ms = fetch_page(
                    conn, self.ctx, channel=channel, after_seq=None, limit=self.limit
                )
            finally:
                conn.close()
            first = start_after(messages)
            state.after_seq = last_seq(messages, first)
            state.callback(
                Delivery(channel=channel, messages=messages, recv_ms=recv_ms, start_after=first)
            )
            path = f"{SSE_PATH}?channel={channel}&after={state.after_seq}"
        else:
            path = f"{SSE_PATH}?channel={channel}"
            headers["Last-Event-ID"] = str(state.after_seq)
        stream = EventStream(self.ctx.host, path, headers=headers, timeout_s=READ_TIMEOUT_S)
        state.reconnected = state.life.resuming
        state.opened_ms = time.time() * 1000.0
        state.life.resumed()
        return stream

    def _pump(self, channel: str, state: SSEChannel, stream: EventStream) -> None:
        for event in stream.events():
            if event.event != "message" or not event.data:
                continue  # the opening ``retry:`` / comment block
            recv_ms = time.time() * 1000.0
            message = orjson.loads(event.data)
            seq = int(message["seq"])
            state.after_seq = max(state.after_seq or 0, seq)
            resumed = int(state.reconnected and message["createdAt"] < state.opened_ms)
            state.callback(
                Delivery(channel=channel, messages=[message], recv_ms=recv_ms, resumed=resumed)
            )
