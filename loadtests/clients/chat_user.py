"""Simulated clients of the source design: chat tabs, senders, notification readers.

One :class:`ChatUser` is one browser tab: it signs up, joins a channel through a
:class:`~loadtests.clients.providers.base.RealtimeProvider` (polling, long-poll, SSE
or WebSocket, chosen by ``--realtime`` / ``REALTIME``), and runs its own timer loop
(:mod:`loadtests.clients.pacing`) for what a tab does at once: the provider's polls
(polling only; push transports read on their own greenlets), unread notifications
every 10 s (marked read), and, for a share of users, messages sent as a Poisson
process. Hidden-tab and offline spells stop polling; offline also drops push
connections, which resume from the last ``seq`` seen.

The tab talks to its provider only; loss, duplicates and reorders by ``seq`` and the
delivery-latency samples are kept here, identically for every transport.

Polls are the hot path (thousands per second per process), so they skip
FastHttpSession (cookie jar, header merging, response wrappers: 300-450 us of CPU
per request) and use one keep-alive :class:`~loadtests.clients.leanhttp.LeanConnection`
per tab, orjson, and a direct ``events.request.fire``. Sign-up, sends, mark-read and
the :class:`~loadtests.clients.providers.polling.PollingProvider`'s polls go over that
same connection, so a polling tab holds one socket (one file descriptor: 10,000 tabs
need 10,000, not twice that), like a browser tab's kept-alive HTTP/1.1 connection.
Push transports add their own stream connection.
"""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any

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
    SIGN_UP_NAME,
)
from loadtests.clients.pacing import MAX_RETRIES, Pacer, Spells, retry_delay_ms
from loadtests.clients.providers.base import Delivery, ProviderContext, RealtimeProvider
from loadtests.clients.providers.factory import choose_transport, make_provider
from loadtests.clients.providers.polling import StatusError
from loadtests.clients.scenario import Scenario, scenario_for
from loadtests.clients.sends import (
    NO_ANSWER,
    Attempt,
    message_text,
    new_ref,
    send_record,
    send_tracked,
)

REQUEST_TIMEOUT_S = 30.0
SERVER_KEEP_ALIVE_S = 5.0  # uvicorn's --timeout-keep-alive default: idle sockets closed


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
        # Set by the provider's first delivery (where this tab's loss window starts).
        self.tracker: SeqTracker | None = None
        self.joined_ms = time.time() * 1000.0
        self.n_poll = self.n_msg = self.n_note = self.n_reconnect = self.n_sent = 0
        self.seen_notes: set[Any] = set()
        self.sender = self.rng.random() < opts.sender_share and opts.send_rate_per_min > 0
        transport = choose_transport(option=opts.realtime, environ=os.environ)
        self.provider: RealtimeProvider = make_provider(
            transport, self._context(token), policy=self.scn.policy, options=opts, conn=self.conn
        )
        self.provider.on_notification(self._pushed_notification)

    def _context(self, token: str) -> ProviderContext:
        return ProviderContext(
            host=self.host or "",
            token=token,
            rng=self.rng,
            fire=self._fired,
            count=self._count,
            reconnected=self._reconnected,
            post=self._provider_post,
            sleep=self._sleep,
            poll_sample=self._poll_sample,
            reconnect_every_s=self.scn.options.reconnect_every_s,
            timeout_s=REQUEST_TIMEOUT_S,
        )

    def on_stop(self) -> None:
        provider = getattr(self, "provider", None)
        if provider is not None:
            provider.close()
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()

    # -- the tab's timer loop --------------------------------------------------------

    @task
    def live(self) -> None:
        opts = self.scn.options
        now = time.time()
        jitter = opts.jitter
        self.provider.subscribe(self.channel, self._deliver)
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
            due = min(self.provider.next_due_s(), self.notification_pacer.next_due_s, self.send_at)
            self._sleep(due - time.time())
            now = time.time()
            if self._away(now):
                continue
            if self.provider.next_due_s() <= now:
                self.provider.tick()
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
        offline = offline_end is not None
        self.provider.away(offline=offline)
        self._sleep(end - now)
        back = time.time()
        self.notification_pacer.restart(now_s=back)  # TanStack refetches on focus / reconnect
        self.provider.back(offline=offline)
        self.send_at = max(self.send_at, back + self._send_gap_s()) if self.sender else math.inf
        return True

    def _send_gap_s(self) -> float:
        return self.rng.expovariate(self.scn.options.send_rate_per_min / 60.0)

    # -- chat ----------------------------------------------------------------------

    def _deliver(self, delivery: Delivery) -> None:
        """Loss bookkeeping for every message; a delivery sample for each one new to us."""
        if delivery.start_after is not None and self.tracker is None:
            self.tracker = SeqTracker(first_seq=delivery.start_after + 1)
        tracker = self.tracker
        if tracker is None:  # a provider bug: deliveries before the loss window is known
            self._count("errors")
            return
        rec = self.scn.recorder
        lost = duplicated = reordered = delivered = 0
        recv_ms = delivery.recv_ms
        for message in delivery.messages:
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
                    channel=delivery.channel,
                    seq=message["seq"],
                )
            if self.delivery_rows:
                self._fired("message", latency_ms, 0, request_type=DELIVERY)
        for field, n in (
            ("lost", lost),
            ("duplicated", duplicated),
            ("reordered", reordered),
            ("messages_delivered", delivered),
            ("messages_resumed", delivery.resumed),
        ):
            if n:
                self._count(field, n)

    def _send(self) -> None:
        """One message with a client reference, through the provider; unknown outcomes are
        retried with the same reference (the idempotency key), and every attempt's outcome
        goes to ``run:{run}:sends`` (:mod:`loadtests.clients.sends` keeps the books)."""
        self.n_sent += 1
        ref = new_ref(user=self.uid, n=self.n_sent, rng=self.rng)
        text = message_text(ref=ref, body=f"hello from {self.uid} at {time.time():.3f}")
        outcome = send_tracked(
            attempt=lambda: self._send_attempt(text, ref),
            record=lambda attempts, seq: self._record_send(ref, attempts, seq),
            sleep_s=self._sleep,
            retry_delay_s=lambda n: retry_delay_ms(n) / 1000,
        )
        if outcome == "ok":
            self._count("messages_sent")

    def _send_attempt(self, text: str, ref: str) -> tuple[int, int | None]:
        """One attempt over the provider: (status, seq); a failed attempt is an error."""
        status, message = self.provider.send_attempt(self.channel, text, ref=ref)
        if message is None:
            self._count("errors")
            return status, None
        return status, int(message["seq"])

    def _poll_sample(self, t_ms: float, latency_ms: float, channel: str) -> None:
        rec = self.scn.recorder
        if rec is not None:
            self.n_poll += 1
            rec.poll(
                t_ms=t_ms, user=self.uid, n=self.n_poll, latency_ms=latency_ms, channel=channel
            )

    def _reconnected(self, latency_ms: float) -> None:
        """One time-to-reconnect sample (drop -> resumed), in ms."""
        rec = self.scn.recorder
        if rec is not None:
            self.n_reconnect += 1
            rec.reconnect(
                t_ms=time.time() * 1000.0, user=self.uid, n=self.n_reconnect, latency_ms=latency_ms
            )

    def _provider_post(
        self, path: str, body: dict[str, Any], name: str, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """The providers' POST (HTTP sends): on the tab's connection; ``_send`` counts errors."""
        return self._post_status(name, path, body, what="send", headers=headers)

    def _record_send(self, ref: str, attempts: list[Attempt], seq: int | None) -> None:
        rec = self.scn.recorder
        if rec is not None:
            record = send_record(channel=self.channel, user=self.uid, attempts=attempts, seq=seq)
            rec.send(ref=ref, record=record)

    # -- notifications ---------------------------------------------------------------

    def _notification_tick(self) -> None:
        self._read_notifications()
        if self.provider.name != "polling" and (
            self.scn.options.notification_interval_s > SERVER_KEEP_ALIVE_S
        ):
            # The server drops this idle socket before the next poll anyway; holding it
            # (CLOSE_WAIT) would cost a push tab a second descriptor (10,000 WebSocket
            # tabs in one process under a 20,000 RLIMIT_NOFILE). The next use reconnects.
            self.conn.close()
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
        unread = orjson.loads(body)["notifications"]
        self._fresh_notifications(unread, recv_ms)
        if not unread:
            return
        ids = [note["id"] for note in unread]  # pushed ones too: the tab shows them all
        self._post(MARK_READ_NAME, MARK_READ_NAME, {"ids": ids}, what="mark read")

    def _pushed_notification(self, note: dict[str, Any], recv_ms: float) -> None:
        """A notification a push transport brought (the 10 s poll marks it read)."""
        self._fresh_notifications([note], recv_ms)

    def _fresh_notifications(
        self, notes: list[dict[str, Any]], recv_ms: float
    ) -> list[dict[str, Any]]:
        """Samples and counts for notifications not seen before; returns those."""
        fresh = [n for n in notes if n["id"] not in self.seen_notes]
        if not fresh:
            return fresh
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
        return fresh

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
        status, body = self._post_status(name, path, payload, what=what)
        if not 200 <= status < 300:
            self._count("errors")
            return None
        return body

    def _post_status(
        self,
        name: str,
        path: str,
        payload: Any,
        *,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """POST JSON on the tab's connection: (status, body), status 0 (``NO_ANSWER``) on I/O
        errors. One row in Locust's stats, marked failed unless 2xx; counts no error (callers
        do). ``headers`` add to the tab's auth (a send's ``Idempotency-Key``).
        """
        t0 = time.perf_counter()
        sent_headers = {**self.auth, **headers} if headers else self.auth
        try:
            status, body, _ = self.conn.post_json(path, orjson.dumps(payload), sent_headers)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            self._fired(name, elapsed_ms, 0, request_type="POST", exception=exc)
            return NO_ANSWER, b""
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        error = None if 200 <= status < 300 else StatusError(f"{what}: HTTP {status}")
        self._fired(name, elapsed_ms, len(body), request_type="POST", exception=error)
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
