"""A receiver on the marker path: duplicates by marker, latency from the send time.

Used for targets without a contiguous per-channel ``seq`` (or whose created-at is not
trusted): every message sent by this run carries a send marker
(:mod:`loadtests.targets.markers`). One :class:`MarkerReceiver` per tab and channel
keeps a seq stream per sender (:class:`~loadtests.targets.markers.MarkerTracker`), so
a number seen twice is a duplicate and a late one a reorder. Gaps are *not* counted
as lost here: a sender's number may belong to a send whose outcome was unknown and
which never landed. Loss is settled at the end against the senders' ledger
(:meth:`MarkerReceiver.unseen`, :func:`loadtests.targets.ledger.settle`).

Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from loadtests.targets.markers import Marker, MarkerTracker, parse_marker

SEQ_COUNTER_BITS = 20  # a sample's seq: crc32(sender) above the sender's counter


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    user: str
    counter: int
    ack_ms: float


@dataclass(slots=True)
class Taken:
    """What one delivery brought: new samples (latency ms, sample seq) and counts."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    duplicated: int = 0
    reordered: int = 0


def sample_seq(marker: Marker) -> int:
    """A per-channel unique integer for a marked message (the samples' ``seq`` column)."""
    return (zlib.crc32(marker.user.encode()) << SEQ_COUNTER_BITS) + marker.counter


@dataclass(slots=True)
class MarkerReceiver:
    """One tab's view of one channel on the marker path (see the module docstring).

    ``first_poll_ms``: start of its first successful poll; ``complete_poll_ms``: start
    of its last poll whose answer was not a full page (so it held everything
    acknowledged before it started). Both on the generator's clock, in epoch ms.
    """

    run_id: str
    channel: str
    joined_ms: float
    tracker: MarkerTracker = field(default_factory=MarkerTracker)
    first_poll_ms: float | None = None
    complete_poll_ms: float | None = None

    def polled(self, *, start_ms: float, complete: bool) -> None:
        if self.first_poll_ms is None:
            self.first_poll_ms = start_ms
        if complete:
            self.complete_poll_ms = start_ms

    def take(
        self,
        messages: Iterable[dict[str, Any]],
        *,
        recv_ms: float,
        content: Callable[[Any], Any],
        created_ms: Callable[[dict[str, Any]], float] | None,
    ) -> Taken:
        """Account for one delivery; ``created_ms`` None: latency from the marker's send time."""
        taken = Taken()
        for message in messages:
            marker = parse_marker(content(message), run_id=self.run_id)
            if marker is None:
                continue  # not sent by this run (history, another run, a probe)
            counts = self.tracker.observe(marker)
            taken.duplicated += counts.duplicated
            taken.reordered += counts.reordered
            if not counts.fresh or marker.sent_ms < self.joined_ms:
                continue  # a repeat, or history from before this tab opened
            sent_ms = marker.sent_ms if created_ms is None else created_ms(message)
            taken.samples.append((recv_ms - sent_ms, sample_seq(marker)))
        return taken

    def seen(self, user: str, counter: int) -> bool:
        stream = self.tracker.streams.get(user)
        return (stream is not None and stream.first_seq <= counter <= stream.highest
                and counter not in stream.missing)

    def unseen(self, entries: Iterable[LedgerEntry]) -> int:
        """Ledger entries acknowledged inside this receiver's window that it never saw."""
        start, end = self.first_poll_ms, self.complete_poll_ms
        if start is None or end is None:
            return 0
        return sum(1 for e in entries
                   if start < e.ack_ms < end and not self.seen(e.user, e.counter))
