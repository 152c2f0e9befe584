"""``PollingProvider``: today's poller (usePolling / useDynamicPolling / server advice).

Each subscribed channel keeps its own timer grid (:class:`~loadtests.clients.pacing.Pacer`),
ticked from the tab's one loop; a poll is retried 3 times with
``min(1000*2**n, 30000)`` ms back-off, and a full page means a gap to catch up,
fetched at once. Polls are the hot path (thousands per second per process), so they
use one keep-alive :class:`~loadtests.clients.leanhttp.LeanConnection` per tab and
orjson, not Locust's FastHttpSession.

A tab that opens is shown the newest page, not history, so the loss window starts at
the first message it was shown (or at seq 1 when the channel was empty then, with the
cursor pinned at 0 so nothing can be skipped).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import orjson

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.names import POLL_NAME
from loadtests.clients.pacing import MAX_RETRIES, Pacer, retry_delay_ms
from loadtests.clients.providers.base import (
    Callback,
    Delivery,
    ProviderContext,
    RealtimeProvider,
)
from target_service.policy import ThresholdPolicy

MAX_CATCHUP_PAGES = 100
SERVER_DEFAULT_INTERVAL_MS = 2000


class StatusError(Exception):
    """A response with an unexpected HTTP status (shown in Locust's failures table)."""


@dataclass(slots=True)
class ChannelPoll:
    """One subscribed channel: its callback, cursor and timer."""

    callback: Callback
    pacer: Pacer
    after_seq: int | None = None  # None until the first answer (then: newest page seen)


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
        self.conn = conn or LeanConnection(ctx.host, timeout_s=ctx.timeout_s)
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
        self.channels[channel] = ChannelPoll(callback=callback, pacer=pacer)

    def unsubscribe(self, channel: str) -> None:
        self.channels.pop(channel, None)

    def close(self) -> None:
        self.channels.clear()
        self.conn.close()

    def next_due_s(self) -> float:
        if self.paused or not self.channels:
            return math.inf
        return min(state.pacer.next_due_s for state in self.channels.values())

    def tick(self) -> None:
        now = time.time()
        for channel, state in list(self.channels.items()):
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

    def _path(self, channel: str, state: ChannelPoll) -> str:
        if state.after_seq is None:
            return f"/api/chat/{channel}/messages?limit={self.limit}"
        return f"/api/chat/{channel}/messages?after={state.after_seq}&limit={self.limit}"

    def _fetch_page(self, channel: str, state: ChannelPoll) -> int | None:
        """GET one page after the cursor; returns the number of messages, None on failure."""
        t0 = time.perf_counter()
        try:
            status, body, interval_header = self.conn.get(self._path(channel, state), self.ctx.auth)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            self._failed((time.perf_counter() - t0) * 1000.0, exc)
            return None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            self._failed(elapsed_ms, StatusError(f"HTTP {status}"))
            return None
        self.ctx.fire(POLL_NAME, elapsed_ms, len(body))
        recv_ms = time.time() * 1000.0
        self.ctx.poll_sample(recv_ms, elapsed_ms, channel)
        data = orjson.loads(body)
        messages = data["messages"]
        self._next_interval(data, interval_header)
        start_after = None
        if state.after_seq is None:
            start_after = messages[0]["seq"] - 1 if messages else 0
            state.after_seq = start_after
        if messages:
            state.after_seq = int(messages[-1]["id"])
        if messages or start_after is not None:
            state.callback(
                Delivery(
                    channel=channel, messages=messages, recv_ms=recv_ms, start_after=start_after
                )
            )
        return len(messages)

    def _next_interval(self, data: dict[str, Any], interval_header: int | None) -> None:
        if self.fixed:
            return
        if self.policy is None:
            advised = data.get("pollIntervalMs", interval_header)
            if advised:
                self.interval_ms = int(advised)
        else:
            self.interval_ms = self.policy.interval_ms(active_users=data.get("activeUsers", 0))

    def _failed(self, elapsed_ms: float, exc: Exception) -> None:
        self.ctx.fire(POLL_NAME, elapsed_ms, 0, exception=exc)
        self.ctx.count("errors", 1)
