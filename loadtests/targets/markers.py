"""Loss, duplicates and latency on a service pollcap did not write: send markers.

Where a target has no contiguous per-channel sequence, each sender puts a marker in
the content of every message: ``pcm:{run}:{user}:{counter}:{sent_ms}``. A sender's
counter goes up by one per send that may have landed (acknowledged, or an unknown
outcome such as a timeout); a send that failed for sure (an answer with another
status) reuses its number. Each sender's messages form a stream 1, 2, 3, ... and a
receiver keeps one :class:`~loadtests.clients.loss.SeqTracker` per sender: a number
seen twice is a duplicate, a late number a reorder, exactly as with the reference
service's ``seq``; loss is judged against the senders' ledger
(:mod:`loadtests.targets.ledger`), since a gap may be a send that never landed.
Delivery latency is the receive time minus ``sent_ms`` (one clock, the
generator's), so the server's created-at is not needed.

A stream's *tail* (the last messages of a sender, never followed by a later one) can
go missing without a gap; :func:`missing_tails` finds those at the end of a run from
the senders' ledger (the last acknowledged counter per sender and channel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loadtests.clients.loss import SeqCounts, SeqTracker

MARKER_RE = re.compile(r"pcm:([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]+):(\d+):(\d+)")


@dataclass(frozen=True, slots=True)
class Marker:
    run_id: str
    user: str
    counter: int
    sent_ms: int

    def text(self) -> str:
        return f"pcm:{self.run_id}:{self.user}:{self.counter}:{self.sent_ms}"


def parse_marker(content: object, *, run_id: str) -> Marker | None:
    """The marker of this run in a message's content, or None (another run, or none)."""
    if not isinstance(content, str):
        return None
    found = MARKER_RE.search(content)
    if found is None or found.group(1) != run_id:
        return None
    return Marker(run_id=run_id, user=found.group(2), counter=int(found.group(3)),
                  sent_ms=int(found.group(4)))


@dataclass(slots=True)
class MarkerTracker:
    """One receiver's view of one channel: a seq stream per sender (see the module doc)."""

    streams: dict[str, SeqTracker] = field(default_factory=dict)

    def observe(self, marker: Marker) -> SeqCounts:
        stream = self.streams.get(marker.user)
        if stream is None:
            # Counted from the first message this receiver sees of that sender, like a
            # tab that opens on a channel with history (joining is not loss).
            stream = self.streams[marker.user] = SeqTracker(first_seq=marker.counter)
        return stream.observe(marker.counter)

    def highest(self) -> dict[str, int]:
        return {user: stream.highest for user, stream in self.streams.items()}


def missing_tails(*, acknowledged: dict[str, int], seen: dict[str, int]) -> int:
    """Messages acknowledged to senders yet never reached by this receiver's streams.

    ``acknowledged``: sender -> last acknowledged counter (the ledger); ``seen``: sender ->
    highest counter this receiver saw. Senders the receiver never saw are not counted
    (it may have joined after they stopped).
    """
    return sum(max(0, last - seen[user]) for user, last in acknowledged.items() if user in seen)
