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

import dataclasses
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
    SIGN_UP_RETRIED_NAME,
)
from loadtests.clients.pacing import Pacer, Spells, retry_delay_ms
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
from loadtests.clients.signup_retry import SIGN_UP_MAX_ATTEMPTS, sign_up_delay_s, sign_up_verdict
from loadtests.targets.compiled import Request, Session, getter
from loadtests.targets.markers import Marker
from loadtests.targets.receive import MarkerReceiver

REQUEST_TIMEOUT_S = 30.0
ACKNOWLEDGED = 201  # what loadtests.clients.sends counts as an acknowledged send
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
        self.target = target = self.scn.target
        self.conn = LeanConnection(self.host or "", timeout_s=REQUEST_TIMEOUT_S,
                                   hint_header=target.interval_header)
        self.auth: dict[str, str] = {}
        self.uid, self.n_err = "", 0  # error samples need a user: none before sign-up
        self.session = self._sign_up()
        self.user_id = self.session.user_id
        self.uid = str(self.user_id)
        self.auth = self.session.headers
        self.channel = self.scn.pick_channel(self.rng)
        # Set by the provider's first delivery (where this tab's loss window starts).
        self.tracker: SeqTracker | None = None
        self.joined_ms = time.time() * 1000.0
        self.receiver: MarkerReceiver | None = None
        self.n_marked = 0  # the send marker's counter (marker path)
        if target.use_markers:
            self.receiver = MarkerReceiver(run_id=self.scn.run_id, channel=self.channel,
                                           joined_ms=self.joined_ms)
            self.scn.receivers.append(self.receiver)
        self.n_poll = self.n_msg = self.n_note = self.n_reconnect = self.n_sent = 0
        self.seen_notes: set[Any] = set()
        self.unread_path: str | None = None
        self.sender = self.rng.random() < opts.sender_share and opts.send_rate_per_min > 0
        transport = choose_transport(option=opts.realtime, environ=os.environ)
        self.provider: RealtimeProvider = make_provider(
            transport, self._context(self.session.token), policy=self.scn.policy, options=opts,
            conn=self.conn,
        )
        self.provider.on_notification(self._pushed_notification)
        self._drop_idle_socket()  # the sign-up's socket would idle until the first poll

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
            target=self.target,
            session=self.session,
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
        if self.target.description.notifications is None:
            self.notification_pacer.next_due_s = math.inf  # the target has none
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
        if self.receiver is not None:
            self._deliver_marked(delivery, self.receiver)
            return
        if delivery.start_after is not None and self.tracker is None:
            self.tracker = SeqTracker(first_seq=delivery.start_after + 1)
        tracker = self.tracker
        if tracker is None:  # a provider bug: deliveries before the loss window is known
            self._count("errors")
            return
        rec = self.scn.recorder
        lost = duplicated = reordered = delivered = 0
        recv_ms = delivery.recv_ms
        seq_of, created_of = self.target.seq, self.target.created_ms
        assert seq_of is not None  # the seq path (no markers)
        for message in delivery.messages:
            seq = seq_of(message)
            counts = tracker.observe(seq)
            lost += counts.lost
            duplicated += counts.duplicated
            reordered += counts.reordered
            created_ms = created_of(message)
            if not counts.fresh or created_ms < self.joined_ms:
                continue  # a repeat, or history from before this tab opened
            delivered += 1
            self._delivery_sample(recv_ms - created_ms, recv_ms, delivery.channel, seq, rec)
        self._delivery_counts(lost=lost, duplicated=duplicated, reordered=reordered,
                              delivered=delivered, resumed=delivery.resumed)

    def _deliver_marked(self, delivery: Delivery, receiver: MarkerReceiver) -> None:
        """The marker path: duplicates by marker now, loss at the end from the ledger."""
        receiver.polled(start_ms=delivery.polled_ms, complete=delivery.complete)
        if not delivery.messages:
            return
        target, rec, recv_ms = self.target, self.scn.recorder, delivery.recv_ms
        taken = receiver.take(delivery.messages, recv_ms=recv_ms, content=target.content,
                              created_ms=target.created_ms if target.trusted_time else None)
        for latency_ms, seq in taken.samples:
            self._delivery_sample(latency_ms, recv_ms, delivery.channel, seq, rec)
        self._delivery_counts(lost=0, duplicated=taken.duplicated, reordered=taken.reordered,
                              delivered=len(taken.samples), resumed=delivery.resumed)

    def _delivery_sample(
        self, latency_ms: float, recv_ms: float, channel: str, seq: int, rec: Any
    ) -> None:
        if rec is not None:
            self.n_msg += 1
            rec.message(t_ms=recv_ms, user=self.uid, n=self.n_msg, latency_ms=latency_ms,
                        channel=channel, seq=seq)
        if self.delivery_rows:
            self._fired("message", latency_ms, 0, request_type=DELIVERY)

    def _delivery_counts(
        self, *, lost: int, duplicated: int, reordered: int, delivered: int, resumed: int
    ) -> None:
        for field, n in (
            ("lost", lost),
            ("duplicated", duplicated),
            ("reordered", reordered),
            ("messages_delivered", delivered),
            ("messages_resumed", resumed),
        ):
            if n:
                self._count(field, n)

    def _send(self) -> None:
        """One message with a client reference, through the provider; unknown outcomes are
        retried with the same reference (the idempotency key), and every attempt's outcome
        goes to ``run:{run}:sends`` (:mod:`loadtests.clients.sends` keeps the books).

        On the marker path the text also carries a send marker; an acknowledged send goes
        to the senders' ledger, and a send refused every time gives its number back.
        """
        self.n_sent += 1
        ref = new_ref(user=self.uid, n=self.n_sent, rng=self.rng)
        body = f"hello from {self.uid} at {time.time():.3f}"
        marker = None
        if self.receiver is not None:
            self.n_marked += 1
            marker = Marker(self.scn.run_id, self.uid, self.n_marked, int(time.time() * 1000))
            body = f"{marker.text()} {body}"
        text = message_text(ref=ref, body=body)
        outcome = send_tracked(
            attempt=lambda: self._send_attempt(text, ref),
            record=lambda attempts, seq: self._record_send(ref, attempts, seq),
            sleep_s=self._sleep,
            retry_delay_s=lambda n: retry_delay_ms(n) / 1000,
        )
        if outcome == "ok":
            self._count("messages_sent")
            if marker is not None and self.scn.ledger is not None:
                self.scn.ledger.acknowledged(channel=self.channel, user=self.uid,
                                             counter=marker.counter, ack_ms=time.time() * 1000)
        elif outcome == "failed" and marker is not None:
            self.n_marked -= 1  # refused: it did not land, the next send reuses the number

    def _send_attempt(self, text: str, ref: str) -> tuple[int, int | None]:
        """One attempt over the provider: (status, seq); a failed attempt is an error.

        A send the description's expected status accepted is reported as 201, the
        acknowledgement :mod:`loadtests.clients.sends` keeps books of; ``seq`` is None
        on a target without one.
        """
        status, message = self.provider.send_attempt(self.channel, text, ref=ref)
        if message is None:
            self._count("errors")
            return status, None
        seq = self.target.seq
        try:
            return ACKNOWLEDGED, None if seq is None else int(seq(message))
        except (KeyError, TypeError, ValueError):
            return ACKNOWLEDGED, None

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

    def _provider_post(self, request: Request, name: str) -> tuple[int, bytes]:
        """The providers' HTTP sends (the request carries auth and ``Idempotency-Key``): on
        the tab's connection; ``_send`` counts errors."""
        return self._request_status(name, request, what="send")

    def _record_send(self, ref: str, attempts: list[Attempt], seq: int | None) -> None:
        rec = self.scn.recorder
        if rec is not None:
            record = send_record(channel=self.channel, user=self.uid, attempts=attempts, seq=seq)
            rec.send(ref=ref, record=record)

    # -- notifications ---------------------------------------------------------------

    def _notification_tick(self) -> None:
        self._read_notifications()
        self._drop_idle_socket()
        self.notification_pacer.advance(
            interval_s=self.scn.options.notification_interval_s, now_s=time.time()
        )

    def _drop_idle_socket(self) -> None:
        """A push tab closes its HTTP socket when it would idle past the keep-alive.

        The server drops it before the next poll anyway; holding it (CLOSE_WAIT) would
        cost a push tab a second descriptor (10,000 WebSocket tabs in one process under a
        20,000 RLIMIT_NOFILE). The next use reconnects.
        """
        if self.provider.name != "polling" and (
            self.scn.options.notification_interval_s > SERVER_KEEP_ALIVE_S
        ):
            self.conn.close()

    def _read_notifications(self) -> None:
        spec = self.target.description.notifications
        assert spec is not None  # the pacer never fires without
        if self.unread_path is None:  # built once: the session does not change
            self.unread_path = self.target.request(spec.unread, {}, session=self.session).path
            self.unread_list = getter(spec.list_path)
        t0 = time.perf_counter()
        try:
            status, body, _ = self.conn.get(self.unread_path, self.auth)
        except Exception as exc:
            self._failed(NOTIFICATIONS_NAME, (time.perf_counter() - t0) * 1000.0, exc)
            return
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if status != 200:
            self._failed(NOTIFICATIONS_NAME, elapsed_ms, StatusError(f"HTTP {status}"))
            return
        self._fired(NOTIFICATIONS_NAME, elapsed_ms, len(body))
        recv_ms = time.time() * 1000.0
        unread = self.unread_list(orjson.loads(body)) or []
        self._fresh_notifications(unread, recv_ms)
        if not unread or spec.mark_read is None:
            return
        ids = [note[spec.id_field] for note in unread]  # pushed ones too: the tab shows them
        mark = self.target.request(spec.mark_read, {"ids": ids}, session=self.session)
        status, _ = self._request_status(MARK_READ_NAME, mark, what="mark read")
        if not 200 <= status < 300:
            self._count("errors")

    def _pushed_notification(self, note: dict[str, Any], recv_ms: float) -> None:
        """A notification a push transport brought (the 10 s poll marks it read)."""
        self._fresh_notifications([note], recv_ms)

    def _fresh_notifications(
        self, notes: list[dict[str, Any]], recv_ms: float
    ) -> list[dict[str, Any]]:
        """Samples and counts for notifications not seen before; returns those."""
        key = self.target.note_id_field
        fresh = [n for n in notes if n[key] not in self.seen_notes]
        if not fresh:
            return fresh
        rec = self.scn.recorder
        for note in fresh:
            self.seen_notes.add(note[key])
            latency_ms = recv_ms - self.target.note_created_ms(note)
            if rec is not None:
                self.n_note += 1
                rec.notification(t_ms=recv_ms, user=self.uid, n=self.n_note, latency_ms=latency_ms)
            if self.delivery_rows:
                self._fired("notification", latency_ms, 0, request_type=DELIVERY)
        self._count("notifications_delivered", len(fresh))
        return fresh

    # -- helpers -------------------------------------------------------------------

    def _sign_up(self) -> Session:
        """Sign up (the description's request) or take a ready token; retried, then StopUser."""
        name = f"tab-{self.rng.randrange(10**9)}"
        target = self.target
        request = target.signup_request(name=name)
        if request is None:  # a tokens file
            tokens = target.ready_tokens()
            if not tokens:
                raise StopUser()
            session = target.session(token=self.rng.choice(tokens))
            return dataclasses.replace(session, user_id=name)
        body = self._sign_up_answer(request)
        if body is None:
            raise StopUser()
        try:
            session = target.session(answer=body)
        except (KeyError, ValueError) as exc:
            self._failed(SIGN_UP_NAME, 0.0, exc, request_type="POST")
            raise StopUser() from None
        if session.user_id is None:
            session = dataclasses.replace(session, user_id=name)
        self.scn.add_user(session.user_id)
        return session

    def _sign_up_answer(self, request: Request) -> bytes | None:
        """The sign-up's answer body, overload answers retried (``signup_retry``); None: gave up.

        A retried attempt is a failure under ``SIGN_UP_RETRIED_NAME`` and no error of the
        run; the attempt that gives up, or any other failure, is an error under
        ``SIGN_UP_NAME``.
        """
        started_s = time.monotonic()
        method = request.method
        for attempt in range(SIGN_UP_MAX_ATTEMPTS):
            t0 = time.perf_counter()
            problem: Exception | None = None
            try:
                status, body, _ = self.conn.request(method.encode(), request.path,
                                                    request.headers, body=request.body)
            except Exception as exc:  # connection refused/reset, timeouts, parse errors
                status, body, problem = NO_ANSWER, b"", exc
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            if status in request.expect_status:
                self._fired(SIGN_UP_NAME, elapsed_ms, len(body), request_type=method)
                return body
            verdict = sign_up_verdict(status=status, attempt=attempt,
                                      elapsed_s=time.monotonic() - started_s)
            self._fired(SIGN_UP_NAME if verdict.error else SIGN_UP_RETRIED_NAME, elapsed_ms,
                        len(body), request_type=method,
                        exception=problem or StatusError(f"sign-up: HTTP {status}"))
            if verdict.error:
                self._count("errors")
            if not verdict.retry:
                return None
            gevent.sleep(sign_up_delay_s(attempt=attempt, rng=self.rng))
        return None

    def _request_status(self, name: str, request: Request, *, what: str) -> tuple[int, bytes]:
        """One described request on the tab's connection: (status, body), 0 on I/O errors.

        One row in Locust's stats, marked failed unless its expected status; counts no
        error (callers do). Status ``NO_ANSWER`` (0) when no answer came.
        """
        t0 = time.perf_counter()
        method = request.method
        try:
            status, body, _ = self.conn.request(method.encode(), request.path, request.headers,
                                                body=request.body)
        except Exception as exc:  # connection refused/reset, timeouts, parse errors
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            self._fired(name, elapsed_ms, 0, request_type=method, exception=exc)
            return NO_ANSWER, b""
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
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
