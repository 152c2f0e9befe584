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
per tab, orjson, and rows written straight into Locust's stats
(:mod:`~loadtests.clients.stats_rows`). Sign-up, sends, mark-read and
the :class:`~loadtests.clients.providers.polling.PollingProvider`'s polls go over that
same connection, so a polling tab holds one socket (one file descriptor: 10,000 tabs
need 10,000, not twice that), like a browser tab's kept-alive HTTP/1.1 connection.
Push transports add their own stream connection.

The tab's parts: its state and stats helpers (:mod:`~loadtests.clients.tab_base`),
sign-up (:mod:`~loadtests.clients.tab_signup`), notifications
(:mod:`~loadtests.clients.tab_notifications`), chat deliveries' bookkeeping
(:mod:`~loadtests.clients.tab_deliveries`); the timer loop and sends are here.
"""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any

import gevent
from locust import task
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.loss import SeqTracker
from loadtests.clients.pacing import Pacer, Spells, retry_delay_ms
from loadtests.clients.providers.base import ProviderContext, RealtimeProvider
from loadtests.clients.providers.factory import choose_transport, make_provider
from loadtests.clients.scenario import Scenario, scenario_for
from loadtests.clients.sends import (
    Attempt,
    message_text,
    new_ref,
    send_record,
    send_tracked,
)
from loadtests.clients.stats_rows import stats_rows
from loadtests.clients.tab_deliveries import DeliveryTab
from loadtests.clients.tab_notifications import NotificationTab
from loadtests.clients.tab_signup import SignUpTab
from loadtests.targets.compiled import Request
from loadtests.targets.markers import Marker
from loadtests.targets.receive import MarkerReceiver

REQUEST_TIMEOUT_S = 30.0
ACKNOWLEDGED = 201  # what loadtests.clients.sends counts as an acknowledged send


class ChatUser(SignUpTab, NotificationTab, DeliveryTab):
    """A browser tab of the chat app (see the module docstring)."""

    weight = 1000

    def wait_time(self) -> float:  # the one task never returns; Locust never waits
        return 0.0

    def on_start(self) -> None:
        self.scn: Scenario = scenario_for(self.environment)
        opts = self.scn.options
        # --seed: the same draws in every run; the sign-up's retries draw a varying number
        # of waits, so they get a stream of their own and the workload's draws stay put
        rng = self.scn.next_tab_rng()
        self.channel = self.scn.pick_channel(rng)
        self.sender = rng.random() < opts.sender_share and opts.send_rate_per_min > 0
        self.rng = random.Random(rng.getrandbits(64))
        self.rows = stats_rows(self.environment)
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
        self.rng = rng
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
        provider = self.provider
        while True:
            # Only this loop moves the poll timers (tick, back), so one reading serves both
            poll_due_s = provider.next_due_s()
            due = min(poll_due_s, self.notification_pacer.next_due_s, self.send_at)
            self._sleep(due - time.time())
            now = time.time()
            if self._away(now):
                continue
            if poll_due_s <= now:
                provider.tick()
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

