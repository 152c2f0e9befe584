"""Simulated clients of the source design: chat pollers, senders, notification readers.

One :class:`ChatUser` is one browser tab: it signs up, joins a channel, and runs
its own timer loop (:mod:`loadtests.clients.pacing`) for three things a tab does at once:
poll the channel (``usePolling`` / ``useDynamicPolling`` / the server's advice),
poll unread notifications every 10 s and mark them read, and, for a share of
users, send messages as a Poisson process. Hidden-tab and offline spells stop
polling; errors are retried 3 times with ``min(1000*2**n, 30000)`` ms back-off;
a full page means a gap to catch up, fetched at once.

Polls are the hot path (thousands per second per process), so they skip
FastHttpSession (cookie jar, header merging, response wrappers: 300-450 us of CPU
per request) and use one keep-alive :class:`~loadtests.clients.leanhttp.LeanConnection`
per user, orjson, and a direct ``events.request.fire``. Sign-up, sends and mark-read
go over the same connection, so a tab holds one socket (one file descriptor: 10,000
tabs need 10,000, not twice that), like a browser tab's kept-alive HTTP/1.1 connection.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any
from urllib.parse import quote

import gevent
import orjson
from locust import User, task
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.loss import SeqTracker
from loadtests.clients.names import (
    DELIVERY,
    MARK_READ_NAME,
    NOTIFICATIONS_NAME,
    POLL_NAME,
    SEND_NAME,
    SIGN_UP_NAME,
)
from loadtests.clients.pacing import MAX_RETRIES, Pacer, Spells, retry_delay_ms
from loadtests.clients.scenario import Scenario, scenario_for
from loadtests.clients.sends import (
    IDEMPOTENCY_HEADER,
    NO_ANSWER,
    Attempt,
    message_text,
    new_ref,
    send_record,
    send_tracked,
)

MAX_CATCHUP_PAGES = 100
SERVER_DEFAULT_INTERVAL_MS = 2000
REQUEST_TIMEOUT_S = 30.0


class StatusError(Exception):
    """A response with an unexpected HTTP status (shown in Locust's failures table)."""


class ChatUser(User):
    """A browser tab of the chat app (see the module docstring)."""

    weight = 1000

    def wait_time(self) -> float:  # the one task never returns; Locust never waits
        return 0.0

    def on_start(self) -> None:
        self.scn: Scenario = scenario_for(self.environment)
        opts = self.scn.options
        self.rng = random.Random()
        self.fire = self.environment.events.request.fire
        self.delivery_rows = opts.delivery_rows
        self.conn = LeanConnection(self.host or "", timeout_s=REQUEST_TIMEOUT_S)
        self.auth: dict[str, str] = {}
        self.uid, self.n_err = "", 0  # error samples need a user: none before sign-up
        self.user_id, token = self._sign_up()
        self.uid = str(self.user_id)
        self.auth = {"Authorization": f"Bearer {token}"}
        self.channel = self.scn.pick_channel(self.rng)
        self.limit = opts.page_limit
        self.path = f"/api/chat/{self.channel}/messages?limit={self.limit}"
        # Set by the first answer: a tab that opens is shown the newest page, not history,
        # so losses count from the first message it was shown (or from seq 1 when the
        # channel was empty then, with the cursor pinned at 0 so nothing can be skipped).
        self.tracker: SeqTracker | None = None
        policy = self.scn.policy
        self.interval_ms = policy.start_ms if policy else SERVER_DEFAULT_INTERVAL_MS
        self.fixed = policy is not None and not policy.thresholds and not policy.rate_thresholds
        self.joined_ms = time.time() * 1000.0
        self.n_poll = self.n_msg = self.n_note = self.n_sent = 0
        self.seen_notes: set[Any] = set()
        self.sender = self.rng.random() < opts.sender_share and opts.send_rate_per_min > 0

    def on_stop(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()

    # -- the tab's timer loop --------------------------------------------------------

    @task
    def live(self) -> None:
        opts = self.scn.options
        now = time.time()
        jitter = opts.jitter
        self.chat_pacer = Pacer.start(
            now_s=now, interval_s=self.interval_ms / 1000, jitter=jitter, rng=self.rng
        )
        self.notification_pacer = Pacer.start(
            now_s=now, interval_s=opts.notification_interval_s, jitter=jitter, rng=self.rng
        )
        self.hidden = Spells.begin(
            share=opts.hidden_share, mean_s=opts.hidden_mean_s, now_s=now, rng=self.rng
        )
        self.offline = Spells.begin(
            share=opts.offline_share, mean_s=opts.offline_mean_s, now_s=now, rng=self.rng
        )
        self.send_at = now + self._send_gap_s() if self.sender else math.inf
        while True:
            due = min(self.chat_pacer.next_due_s, self.notification_pacer.next_due_s, self.send_at)
            self._sleep(due - time.time())
            now = time.time()
            if self._away(now):
                continue
            if self.chat_pacer.next_due_s <= now:
                self._chat_tick()
            elif self.notification_pacer.next_due_s <= now:
                self._notification_tick()
            elif self.send_at <= now:
                self._send()
                self.send_at = max(self.send_at + self._send_gap_s(), time.time())

    def _sleep(self, seconds: float) -> None:
        """Sleep, killable at once by Locust (like ``User.wait``)."""
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        if seconds > 0:
            self._state = LOCUST_STATE_WAITING
            gevent.sleep(seconds)
            if self._state == LOCUST_STATE_STOPPING:
                raise StopUser()
            self._state = LOCUST_STATE_RUNNING

    def _away(self, now: float) -> bool:
        """Sit out a hidden or offline spell; afterwards resume as the source's hooks do."""
        hidden_end = self.hidden.away_until(now)
        offline_end = self.offline.away_until(now)
        if hidden_end is None and offline_end is None:
            return False
        end = max(e for e in (hidden_end, offline_end) if e is not None)
        self._sleep(end - now)
        back = time.time()
        self.notification_pacer.restart(now_s=back)  # TanStack refetches on focus / reconnect
        # hidden: refetch on window focus; offline: useResilientPolling restarts its timer
        delay_s = self.interval_ms / 1000 if offline_end is not None else 0.0
        self.chat_pacer.restart(now_s=back, delay_s=delay_s)
        self.send_at = max(self.send_at, back + self._send_gap_s()) if self.sender else math.inf
        return True

    def _send_gap_s(self) -> float:
        return self.rng.expovariate(self.scn.options.send_rate_per_min / 60.0)

    # -- chat ----------------------------------------------------------------------

    def _chat_tick(self) -> None:
        late_ms = (time.time() - self.chat_pacer.next_due_s) * 1000.0
        self._poll_chat()
        rec = self.scn.recorder
        if rec is not None:
            rec.count("polls")
            rec.count("poll_late_ms_sum", int(late_ms))
        self.chat_pacer.advance(interval_s=self.interval_ms / 1000, now_s=time.time())

    def _poll_chat(self) -> bool:
        """One scheduled poll: retries on errors, then catches up while pages come back full."""
        attempt = pages = 0
        while True:
            got = self._fetch_page()
            if got is None:
                if attempt >= MAX_RETRIES:
                    return False
                self._sleep(retry_delay_ms(attempt) / 1000)
                attempt += 1
                continue
            attempt = 0
            pages += 1
            if got < self.limit or pages >= MAX_CATCHUP_PAGES:
                return True

    def _fetch_page(self) -> int | None:
        """GET one page after the cursor; returns the number of messages, None on failure."""
        t0 = time.perf_counter()
        try:
            status, body, interval_header = self.conn.get(self.path, self.auth)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            self._failed(POLL_NAME, (time.perf_counter() - t0) * 1000.0, exc)
            return None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            self._failed(POLL_NAME, elapsed_ms, StatusError(f"HTTP {status}"))
            return None
        self._fired(POLL_NAME, elapsed_ms, len(body))
        recv_ms = time.time() * 1000.0
        rec = self.scn.recorder
        if rec is not None:
            self.n_poll += 1
            rec.poll(
                t_ms=recv_ms,
                user=self.uid,
                n=self.n_poll,
                latency_ms=elapsed_ms,
                channel=self.channel,
            )
        data = orjson.loads(body)
        messages = data["messages"]
        self._next_interval(data, interval_header)
        if self.tracker is None:
            self.tracker = SeqTracker(first_seq=messages[0]["seq"] if messages else 1)
            if not messages:
                self.path = f"/api/chat/{self.channel}/messages?after=0&limit={self.limit}"
        if messages:
            self._deliver(messages, recv_ms)
            cursor = quote(str(messages[-1]["id"]), safe="")
            self.path = f"/api/chat/{self.channel}/messages?after={cursor}&limit={self.limit}"
        return len(messages)

    def _next_interval(self, data: dict[str, Any], interval_header: int | None) -> None:
        if self.fixed:
            return
        policy = self.scn.policy
        if policy is None:
            advised = data.get("pollIntervalMs", interval_header)
            if advised:
                self.interval_ms = int(advised)
        else:
            self.interval_ms = policy.interval_ms(active_users=data.get("activeUsers", 0))

    def _deliver(self, messages: list[dict[str, Any]], recv_ms: float) -> None:
        """Loss bookkeeping for every message; a delivery sample for each one new to us."""
        rec = self.scn.recorder
        lost = duplicated = reordered = delivered = 0
        tracker = self.tracker
        assert tracker is not None  # set by _fetch_page before any delivery
        for message in messages:
            counts = tracker.observe(message["seq"])
            lost += counts.lost
            duplicated += counts.duplicated
            reordered += counts.reordered
            created_ms = message["createdAt"]
            if not counts.fresh or created_ms < self.joined_ms:
                continue  # a repeat, or history from before this tab opened
            delivered += 1
            latency_ms = recv_ms - created_ms
            if rec is not None:
                self.n_msg += 1
                rec.message(
                    t_ms=recv_ms,
                    user=self.uid,
                    n=self.n_msg,
                    latency_ms=latency_ms,
                    channel=self.channel,
                    seq=message["seq"],
                )
            if self.delivery_rows:
                self._fired("message", latency_ms, 0, request_type=DELIVERY)
        if rec is not None:
            for field, n in (
                ("lost", lost),
                ("duplicated", duplicated),
                ("reordered", reordered),
                ("messages_delivered", delivered),
            ):
                if n:
                    rec.count(field, n)

    def _send(self) -> None:
        """One message with a client reference; unknown outcomes retried with the same key
        (:mod:`loadtests.clients.sends` keeps the books; failed attempts count as errors)."""
        self.n_sent += 1
        ref = new_ref(user=self.uid, n=self.n_sent, rng=self.rng)
        text = message_text(ref=ref, body=f"hello from {self.uid} at {time.time():.3f}")
        outcome = send_tracked(
            attempt=lambda: self._post_message(text, ref),
            record=lambda attempts, seq: self._record_send(ref, attempts, seq),
            sleep_s=self._sleep,
            retry_delay_s=lambda n: retry_delay_ms(n) / 1000,
        )
        if outcome == "ok":
            self._count("messages_sent")

    def _post_message(self, text: str, ref: str) -> tuple[int, int | None]:
        """One attempt on the tab's connection: (status, seq); ``NO_ANSWER`` when nothing
        came back (the message may or may not be committed)."""
        path = f"/api/chat/{self.channel}/messages"
        headers = {**self.auth, IDEMPOTENCY_HEADER: ref}
        t0 = time.perf_counter()
        try:
            status, body, _ = self.conn.post_json(path, orjson.dumps({"content": text}), headers)
        except Exception as exc:  # connection refused/reset, timeouts
            self._failed(SEND_NAME, (time.perf_counter() - t0) * 1000.0, exc, request_type="POST")
            return NO_ANSWER, None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 201:
            error = StatusError(f"send: HTTP {status}")
            self._failed(SEND_NAME, elapsed_ms, error, request_type="POST")
            return status, None
        self._fired(SEND_NAME, elapsed_ms, len(body), request_type="POST")
        return status, int(orjson.loads(body)["message"]["seq"])

    def _record_send(self, ref: str, attempts: list[Attempt], seq: int | None) -> None:
        rec = self.scn.recorder
        if rec is not None:
            record = send_record(channel=self.channel, user=self.uid, attempts=attempts, seq=seq)
            rec.send(ref=ref, record=record)

    # -- notifications ---------------------------------------------------------------

    def _notification_tick(self) -> None:
        self._read_notifications()
        self.notification_pacer.advance(
            interval_s=self.scn.options.notification_interval_s, now_s=time.time()
        )

    def _read_notifications(self) -> None:
        t0 = time.perf_counter()
        try:
            status, body, _ = self.conn.get("/api/notifications/unread", self.auth)
        except Exception as exc:
            self._failed(NOTIFICATIONS_NAME, (time.perf_counter() - t0) * 1000.0, exc)
            return
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            self._failed(NOTIFICATIONS_NAME, elapsed_ms, StatusError(f"HTTP {status}"))
            return
        self._fired(NOTIFICATIONS_NAME, elapsed_ms, len(body))
        recv_ms = time.time() * 1000.0
        fresh = [n for n in orjson.loads(body)["notifications"] if n["id"] not in self.seen_notes]
        if not fresh:
            return
        rec = self.scn.recorder
        for note in fresh:
            self.seen_notes.add(note["id"])
            latency_ms = recv_ms - note["createdAt"]
            if rec is not None:
                self.n_note += 1
                rec.notification(t_ms=recv_ms, user=self.uid, n=self.n_note, latency_ms=latency_ms)
            if self.delivery_rows:
                self._fired("notification", latency_ms, 0, request_type=DELIVERY)
        self._count("notifications_delivered", len(fresh))
        ids = [note["id"] for note in fresh]
        self._post(MARK_READ_NAME, MARK_READ_NAME, {"ids": ids}, what="mark read")

    # -- helpers -------------------------------------------------------------------

    def _sign_up(self) -> tuple[Any, str]:
        name = f"tab-{self.rng.randrange(10**9)}"
        for attempt in range(MAX_RETRIES + 1):
            body = self._post(SIGN_UP_NAME, SIGN_UP_NAME, {"name": name}, what="sign-up")
            if body is not None:
                data = orjson.loads(body or b"{}")
                self.scn.add_user(data["id"])
                return data["id"], data["token"]
            if attempt < MAX_RETRIES:
                gevent.sleep(retry_delay_ms(attempt) / 1000)
        raise StopUser()

    def _post(self, name: str, path: str, payload: Any, *, what: str) -> bytes | None:
        """POST JSON on the tab's connection; the body on 2xx, None (counted) otherwise."""
        t0 = time.perf_counter()
        try:
            status, body, _ = self.conn.post_json(path, orjson.dumps(payload), self.auth)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            self._failed(name, (time.perf_counter() - t0) * 1000.0, exc, request_type="POST")
            return None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if not 200 <= status < 300:
            error = StatusError(f"{what}: HTTP {status}")
            self._failed(name, elapsed_ms, error, request_type="POST")
            return None
        self._fired(name, elapsed_ms, len(body), request_type="POST")
        return body

    def _fired(
        self,
        name: str,
        elapsed_ms: float,
        length: int,
        *,
        request_type: str = "GET",
        exception: Exception | None = None,
    ) -> None:
        """One row in Locust's stats: a request, or (``DELIVERY``) a delivery latency."""
        if request_type != DELIVERY:
            self._count("requests")
        self.fire(
            request_type=request_type,
            name=name,
            response_time=elapsed_ms,
            response_length=length,
            exception=exception,
            context={},
        )

    def _failed(
        self, name: str, elapsed_ms: float, exc: Exception, *, request_type: str = "GET"
    ) -> None:
        self._fired(name, elapsed_ms, 0, request_type=request_type, exception=exc)
        self._count("errors")
        self._record_error(name, elapsed_ms)

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
