"""``PollingProvider``: today's poller (usePolling / useDynamicPolling / server advice).

Each subscribed channel keeps its own timer grid (:class:`~loadtests.clients.pacing.Pacer`),
ticked from the tab's one loop; a poll is retried 3 times with
``min(1000*2**n, 30000)`` ms back-off, and a full page means a gap to catch up,
fetched at once. Polls are the hot path (thousands per second per process), so they
use one keep-alive :class:`~loadtests.clients.leanhttp.LeanConnection` per tab and
orjson, not Locust's FastHttpSession.

A tab that opens is shown the newest page, not history, so the loss window starts at
the first message it was shown (or at seq 1 when the channel was empty then, with the
cursor pinned at the description's ``cursor_start`` so nothing can be skipped).

Paths, cursor, message list and fields come from the tab's compiled target
description (:class:`~loadtests.targets.compiled.CompiledTarget`, the reference
service's by default): the poll path is built once per channel, and a poll costs a
string join, the request, one ``orjson.loads`` and a few getters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.names import POLL_NAME
from loadtests.clients.pacing import MAX_RETRIES, Pacer, retry_delay_ms
from loadtests.clients.providers.base import (
    Callback,
    Delivery,
    ProviderContext,
    RealtimeProvider,
)
from loadtests.targets.compiled import PollAnswer
from target_service.policy import ThresholdPolicy

MAX_CATCHUP_PAGES = 100
SERVER_DEFAULT_INTERVAL_MS = 2000


class StatusError(Exception):
    """A response with an unexpected HTTP status (shown in Locust's failures table)."""


class AnswerError(Exception):
    """A poll answer that does not match the target description (no list, no field)."""


@dataclass(slots=True)
class ChannelPoll:
    """One subscribed channel: its callback, poll path without cursor, cursor and timer."""

    callback: Callback
    pacer: Pacer
    base: str  # the compiled poll path (limit, auth query), ready for a cursor
    path: str  # base with the cursor (rebuilt only when the cursor moves)
    cursor: str | None = None  # None until the first answer (then: after the newest page)
    started: bool = False


class PollingProvider(RealtimeProvider):
    """Polls every subscribed channel on its own grid (see the module docstring)."""

    name = "polling"

    def __init__(
        self,
        ctx: ProviderContext,
        *,
        policy: ThresholdPolicy | None,
        page_limit: int,
        jitter: float,
        conn: LeanConnection | None = None,
    ) -> None:
        """``conn``: the tab's keep-alive connection to share (one socket per tab, as today)."""
        super().__init__(ctx)
        self.policy = policy  # None: obey the server's pollIntervalMs
        self.limit = page_limit
        self.jitter = jitter
        self.interval_ms = policy.start_ms if policy else SERVER_DEFAULT_INTERVAL_MS
        self.fixed = policy is not None and not policy.thresholds and not policy.rate_thresholds
        self.target = ctx.target
        self.conn = conn or LeanConnection(ctx.host, timeout_s=ctx.timeout_s,
                                           hint_header=self.target.interval_header)
        self.headers = ctx.auth
        self.session = ctx.tab_session
        # No seq: the receiver's loss window needs every answer, empty ones too.
        self.every_answer = not self.target.has_seq
        self.channels: dict[str, ChannelPoll] = {}
        self.paused = False
        self.drop_at_s = time.time() + ctx.drop_in_s()

    # -- RealtimeProvider ------------------------------------------------------------

    def subscribe(self, channel: str, callback: Callback) -> None:
        pacer = Pacer.start(
            now_s=time.time(),
            interval_s=self.interval_ms / 1000,
            jitter=self.jitter,
            rng=self.ctx.rng,
        )
        base = self.target.poll_base(channel=channel, limit=self.limit, session=self.session)
        self.channels[channel] = ChannelPoll(callback=callback, pacer=pacer, base=base, path=base)

    def unsubscribe(self, channel: str) -> None:
        self.channels.pop(channel, None)

    def close(self) -> None:
        self.channels.clear()
        self.conn.close()

    def next_due_s(self) -> float:
        if self.paused or not self.channels:
            return math.inf
        if len(self.channels) == 1:  # a tab's usual one channel: no generator per call
            for state in self.channels.values():
                return state.pacer.next_due_s
        return min(state.pacer.next_due_s for state in self.channels.values())

    def tick(self) -> None:
        now = time.time()
        for channel, state in self.channels.items():  # returns before the dict can change
            if state.pacer.next_due_s <= now:
                self._scheduled_poll(channel, state)
                return  # one poll per tick: the tab's loop interleaves sends and notes

    def away(self, *, offline: bool) -> None:
        self.paused = True

    def back(self, *, offline: bool) -> None:
        """Hidden: refetch on focus at once; offline: useResilientPolling restarts its timer."""
        self.paused = False
        now = time.time()
        delay_s = self.interval_ms / 1000 if offline else 0.0
        for state in self.channels.values():
            state.pacer.restart(now_s=now, delay_s=delay_s)

    # -- polling -------------------------------------------------------------------

    def _scheduled_poll(self, channel: str, state: ChannelPoll) -> None:
        late_ms = (time.time() - state.pacer.next_due_s) * 1000.0
        forced = time.time() >= self.drop_at_s
        if forced:  # --reconnect-every: the next poll opens a new connection
            self.conn.close()
            self.drop_at_s = time.time() + self.ctx.drop_in_s()
        t0 = time.perf_counter()
        ok = self._poll(channel, state)
        if forced:
            self.ctx.count("forced_drops", 1)
            self.ctx.count("reconnects", 1)
            if ok:
                self.ctx.reconnected((time.perf_counter() - t0) * 1000.0)
        self.ctx.count("polls", 1)
        self.ctx.count("poll_late_ms_sum", int(late_ms))
        state.pacer.advance(interval_s=self.interval_ms / 1000, now_s=time.time())

    def _poll(self, channel: str, state: ChannelPoll) -> bool:
        """One scheduled poll: retries on errors, then catches up while pages come back full."""
        attempt = pages = 0
        while True:
            got = self._fetch_page(channel, state)
            if got is None:
                if attempt >= MAX_RETRIES:
                    return False
                self.ctx.sleep(retry_delay_ms(attempt) / 1000)
                attempt += 1
                continue
            attempt = 0
            pages += 1
            if got < self.limit or pages >= MAX_CATCHUP_PAGES:
                return True

    def _fetch_page(self, channel: str, state: ChannelPoll) -> int | None:
        """GET one page after the cursor; returns the number of messages, None on failure."""
        target = self.target
        t0 = time.perf_counter()
        try:
            status, body, hint = self.conn.get(state.path, self.headers)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            self._failed((time.perf_counter() - t0) * 1000.0, exc)
            return None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            self._failed(elapsed_ms, StatusError(f"HTTP {status}"))
            return None
        try:
            answer = target.parse_poll(body, interval_header=hint, hints=not self.fixed)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._failed(elapsed_ms, AnswerError(f"answer off the description: {exc}"))
            return None
        self.ctx.fire(POLL_NAME, elapsed_ms, len(body))
        recv_ms = time.time() * 1000.0
        self.ctx.poll_sample(recv_ms, elapsed_ms, channel)
        messages = answer.messages
        self._next_interval(answer)
        start_after = None
        if not state.started:
            state.started = True
            start_after = 0
            if messages and target.seq is not None:
                start_after = int(target.seq(messages[0])) - 1
            self._move(state, target.cursor_start)
        if answer.next_cursor is not None and answer.next_cursor != state.cursor:
            self._move(state, answer.next_cursor)
        if messages or start_after is not None or self.every_answer:
            state.callback(
                Delivery(
                    channel=channel, messages=messages, recv_ms=recv_ms, start_after=start_after,
                    polled_ms=recv_ms - elapsed_ms, complete=len(messages) < self.limit,
                )
            )
        return len(messages)

    def _move(self, state: ChannelPoll, cursor: str | None) -> None:
        state.cursor = cursor
        state.path = self.target.poll_path(state.base, cursor)

    def _next_interval(self, answer: PollAnswer) -> None:
        if self.fixed:
            return
        if self.policy is None:
            if answer.interval_ms:
                self.interval_ms = answer.interval_ms
        else:
            self.interval_ms = self.policy.interval_ms(active_users=answer.active_users or 0)

    def _failed(self, elapsed_ms: float, exc: Exception) -> None:
        self.ctx.fire(POLL_NAME, elapsed_ms, 0, exception=exc)
        self.ctx.count("errors", 1)
