"""A tab's notifications: unread ones read every 10 s and marked read, pushed ones taken.

Each notification new to the tab is one latency sample (receipt minus its creation) and
one count; a push tab closes its idle HTTP socket between reads (one descriptor per tab).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from loadtests.clients.names import DELIVERY, MARK_READ_NAME, NOTIFICATIONS_NAME
from loadtests.clients.pacing import Pacer
from loadtests.clients.providers.polling import StatusError
from loadtests.clients.tab_base import TabBase
from loadtests.targets.compiled import Getter, getter

SERVER_KEEP_ALIVE_S = 5.0  # uvicorn's --timeout-keep-alive default: idle sockets closed


class NotificationTab(TabBase):
    """Notifications for :class:`~loadtests.clients.chat_user.ChatUser` (``abstract``)."""

    abstract = True

    notification_pacer: Pacer
    seen_notes: set[Any]
    n_note: int
    unread_path: str | None
    unread_list: Getter

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
        latencies_ms: list[float] = []
        for note in fresh:
            self.seen_notes.add(note[key])
            latency_ms = recv_ms - self.target.note_created_ms(note)
            latencies_ms.append(latency_ms)
            if rec is not None:
                self.n_note += 1
                rec.notification(t_ms=recv_ms, user=self.uid, n=self.n_note, latency_ms=latency_ms)
        if self.delivery_rows:
            self.rows.ok_many(DELIVERY, "notification", latencies_ms)
        self._count("notifications_delivered", len(fresh))
        return fresh

