"""A tab's chat deliveries: loss, duplicates and reorders by ``seq`` (or by send marker on
targets without one), and one latency sample per message new to the tab.

Identical for every transport: the provider hands over a
:class:`~loadtests.clients.providers.base.Delivery`, this keeps the books.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtests.clients.loss import SeqTracker
from loadtests.clients.names import DELIVERY
from loadtests.clients.providers.base import Delivery
from loadtests.clients.tab_base import TabBase
from loadtests.targets.receive import MarkerReceiver


class DeliveryTab(TabBase):
    """Delivery bookkeeping for :class:`~loadtests.clients.chat_user.ChatUser` (``abstract``)."""

    abstract = True

    tracker: SeqTracker | None  # set by the provider's first delivery (the loss window)
    receiver: MarkerReceiver | None  # the marker path's receiver, None on the seq path
    joined_ms: float
    n_msg: int

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
        lost = duplicated = reordered = 0
        recv_ms = delivery.recv_ms
        seq_of, created_of = self.target.seq, self.target.created_ms
        assert seq_of is not None  # the seq path (no markers)
        samples: list[tuple[float, int]] = []  # (latency ms, seq) of the messages new to us
        for message in delivery.messages:
            seq = seq_of(message)
            counts = tracker.observe(seq)
            lost += counts.lost
            duplicated += counts.duplicated
            reordered += counts.reordered
            created_ms = created_of(message)
            if not counts.fresh or created_ms < self.joined_ms:
                continue  # a repeat, or history from before this tab opened
            samples.append((recv_ms - created_ms, seq))
        self._delivery_samples(samples, recv_ms, delivery.channel)
        self._delivery_counts(lost=lost, duplicated=duplicated, reordered=reordered,
                              delivered=len(samples), resumed=delivery.resumed)

    def _deliver_marked(self, delivery: Delivery, receiver: MarkerReceiver) -> None:
        """The marker path: duplicates by marker now, loss at the end from the ledger."""
        receiver.polled(start_ms=delivery.polled_ms, complete=delivery.complete)
        if not delivery.messages:
            return
        target, recv_ms = self.target, delivery.recv_ms
        taken = receiver.take(delivery.messages, recv_ms=recv_ms, content=target.content,
                              created_ms=target.created_ms if target.trusted_time else None)
        self._delivery_samples(taken.samples, recv_ms, delivery.channel)
        self._delivery_counts(lost=0, duplicated=taken.duplicated, reordered=taken.reordered,
                              delivered=len(taken.samples), resumed=delivery.resumed)

    def _delivery_samples(
        self, samples: Sequence[tuple[float, int]], recv_ms: float, channel: str
    ) -> None:
        """A message sample per (latency ms, seq), and their ``DELIVERY`` rows in one batch."""
        if not samples:
            return
        rec = self.scn.recorder
        if rec is not None:
            uid, n = self.uid, self.n_msg
            for latency_ms, seq in samples:
                n += 1
                rec.message(t_ms=recv_ms, user=uid, n=n, latency_ms=latency_ms,
                            channel=channel, seq=seq)
            self.n_msg = n
        if self.delivery_rows:
            self.rows.ok_many(DELIVERY, "message", [latency_ms for latency_ms, _ in samples])

    def _delivery_counts(
        self, *, lost: int, duplicated: int, reordered: int, delivered: int, resumed: int
    ) -> None:
        if delivered:  # the usual poll's only non-zero count: no loop over the five
            self._count("messages_delivered", delivered)
        if lost or duplicated or reordered or resumed:
            for field, n in (("lost", lost), ("duplicated", duplicated),
                             ("reordered", reordered), ("messages_resumed", resumed)):
                if n:
                    self._count(field, n)
