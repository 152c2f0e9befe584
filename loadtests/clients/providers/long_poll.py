"""``LongPollProvider``: ``GET .../messages?after=SEQ&waitMs=W`` held until news, per channel.

The server answers at once when newer messages exist, else holds the request until one
is committed or ``W`` ms pass (then an empty page). Each subscribed channel has a
reader greenlet and a keep-alive connection of its own, so the tab's sends and
notification polls are never stuck behind a held request. A tab opens like a polling
tab (the newest page); after a drop it resumes with one plain poll after its cursor
(those messages are the *resumed* ones; the stream counts as resumed when that answer
is back), then long-polls again. A server that ignores ``waitMs`` (empty answers at once)
degrades the tab to polling every :data:`EMPTY_FLOOR_S`, not to a busy loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import gevent

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.providers.base import Callback, Delivery, ProviderContext, RealtimeProvider
from loadtests.clients.providers.pages import fetch_page, last_seq, start_after
from loadtests.clients.providers.push import Lifecycle, connection_loop

WAIT_MS = 25_000  # the contract allows 1..30000
LONG_POLL_NAME = "/api/chat/[channel]/messages?waitMs"
READ_MARGIN_S = 15.0  # a held request may take this much longer than waitMs
EMPTY_FLOOR_S = 1.0  # an empty answer sooner than this: the server did not hold it


@dataclass(slots=True)
class LongPollChannel:
    callback: Callback
    life: Lifecycle
    after_seq: int | None = None
    reader: gevent.Greenlet | None = field(default=None, repr=False)


class LongPollProvider(RealtimeProvider):
    """The design's provider over long-polling (see the module docstring)."""

    name = "long-poll"

    def __init__(self, ctx: ProviderContext, *, page_limit: int, wait_ms: int = WAIT_MS) -> None:
        super().__init__(ctx)
        self.limit = page_limit
        self.wait_ms = wait_ms
        self.channels: dict[str, LongPollChannel] = {}

    def subscribe(self, channel: str, callback: Callback) -> None:
        state = LongPollChannel(callback=callback, life=Lifecycle(self.ctx))
        state.reader = gevent.spawn(
            connection_loop,
            state.life,
            connect=partial(self._connect, channel, state),
            pump=partial(self._pump, channel, state),
            close=LeanConnection.close,
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

    def _connect(self, channel: str, state: LongPollChannel) -> LeanConnection:
        conn = LeanConnection(self.ctx.host, timeout_s=self.wait_ms / 1000 + READ_MARGIN_S)
        try:
            if state.after_seq is None:
                messages, recv_ms = fetch_page(
                    conn, self.ctx, channel=channel, after_seq=None, limit=self.limit
                )
                first = start_after(messages)
                state.after_seq = last_seq(messages, first)
                state.callback(
                    Delivery(channel=channel, messages=messages, recv_ms=recv_ms, start_after=first)
                )
            else:
                self._catch_up(conn, channel, state)
        except BaseException:
            conn.close()
            raise
        return conn

    def _catch_up(self, conn: LeanConnection, channel: str, state: LongPollChannel) -> None:
        """Plain polls after the cursor until a page is not full: what the drop missed."""
        while True:
            assert state.after_seq is not None
            messages, recv_ms = fetch_page(
                conn, self.ctx, channel=channel, after_seq=state.after_seq, limit=self.limit
            )
            state.life.resumed()
            if messages:
                state.after_seq = last_seq(messages, state.after_seq)
                state.callback(
                    Delivery(
                        channel=channel, messages=messages, recv_ms=recv_ms, resumed=len(messages)
                    )
                )
            if len(messages) < self.limit:
                return

    def _pump(self, channel: str, state: LongPollChannel, conn: LeanConnection) -> None:
        while True:
            assert state.after_seq is not None
            asked_s = time.monotonic()
            messages, recv_ms = fetch_page(
                conn,
                self.ctx,
                channel=channel,
                after_seq=state.after_seq,
                limit=self.limit,
                wait_ms=self.wait_ms,
                name=LONG_POLL_NAME,
            )
            if messages:
                state.after_seq = last_seq(messages, state.after_seq)
                state.callback(Delivery(channel=channel, messages=messages, recv_ms=recv_ms))
            elif time.monotonic() - asked_s < EMPTY_FLOOR_S:
                gevent.sleep(EMPTY_FLOOR_S)
