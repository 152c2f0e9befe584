"""Jepsen-style accounting of every send against the store and every receiver (pure).

Each send has an outcome by its client reference (:mod:`loadtests.clients.sends`):
*ok* (acknowledged), *failed* (definitely refused) or *unknown* (no answer). After
healing, the store is read back in full and every reference is checked:

* **acknowledged-lost**: ok, yet absent from the store, or never delivered to a
  receiver that was polling its channel from before the send until after the
  acknowledgement (it polled again later, or got past that seq);
* **duplicated**: stored more than once (a retry that the service did not dedupe);
* **recovered**: unknown, yet present (the commit happened; the answer was lost);
* **failed-present**: refused, yet stored (a refusal that was not one);
* per-receiver **gaps**: seqs of the channel's store between the first and last seq a
  receiver got that it never got.

A stored message without a reference, or with one no send recorded, is *unrecorded*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

GRACE_MS = 1000.0  # a receiver must poll this long after an ack before the ack counts


@dataclass(frozen=True, slots=True)
class Send:
    ref: str
    channel: str
    outcome: str  # ok | failed | unknown
    seq: int | None
    started_ms: float
    ended_ms: float
    longest_ms: float = 0.0

    @classmethod
    def from_record(cls, ref: str, record: Mapping[str, Any]) -> Send:
        started = float(record.get("started_ms") or 0.0)
        return cls(
            ref=ref,
            channel=str(record["channel"]),
            outcome=str(record["outcome"]),
            seq=record.get("seq"),
            started_ms=started,
            ended_ms=float(record.get("ended_ms") or started),
            longest_ms=float(record.get("longest_ms") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class Stored:
    channel: str
    seq: int
    ref: str | None


@dataclass(slots=True)
class Receiver:
    """One tab polling one channel: its first and last poll *start*, and what it got."""

    user: str
    channel: str
    first_poll_ms: float
    last_poll_ms: float
    delivered: set[int] = field(default_factory=set)

    def expects(self, send: Send, *, seq: int, grace_ms: float = GRACE_MS) -> bool:
        """Was this tab polling the channel from before ``send`` until after its ack?"""
        if send.channel != self.channel or self.first_poll_ms > send.started_ms:
            return False
        got_past = bool(self.delivered) and max(self.delivered) >= seq
        return got_past or self.last_poll_ms >= send.ended_ms + grace_ms


def receivers_from(*, polls: pd.DataFrame, deliveries: pd.DataFrame) -> list[Receiver]:
    """Receivers from poll samples (``t_ms, user, latency_ms, channel``) and message
    samples (``t_ms, user, channel, seq``).

    A polling tab's span is its first to last poll start. A push tab (long-poll, SSE,
    WebSocket) records no poll samples: its span is its first to last delivery, which
    starts no earlier than its subscription, so it is never expected to have got more.
    """
    got: dict[tuple[str, str], set[int]] = defaultdict(set)
    pushed: dict[tuple[str, str], list[float]] = {}
    for t_ms, user, channel, seq in deliveries[["t_ms", "user", "channel", "seq"]].itertuples(
        index=False
    ):
        key = (str(user), str(channel))
        got[key].add(int(seq))
        span = pushed.setdefault(key, [float(t_ms), float(t_ms)])
        span[0], span[1] = min(span[0], float(t_ms)), max(span[1], float(t_ms))
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    if not polls.empty:
        start_ms = polls["t_ms"].to_numpy(dtype=np.float64) - polls["latency_ms"].to_numpy()
        frame = polls.assign(start_ms=start_ms).groupby(["user", "channel"])["start_ms"]
        for (user, channel), row in frame.agg(["min", "max"]).iterrows():
            spans[(str(user), str(channel))] = (float(row["min"]), float(row["max"]))
    for key, (first_ms, last_ms) in pushed.items():
        spans.setdefault(key, (first_ms, last_ms))
    return [
        Receiver(user=user, channel=channel, first_poll_ms=first_ms, last_poll_ms=last_ms,
                 delivered=got.get((user, channel), set()))
        for (user, channel), (first_ms, last_ms) in spans.items()
    ]


def account(
    *, sends: Iterable[Send], stored: Sequence[Stored], receivers: Sequence[Receiver],
    grace_ms: float = GRACE_MS,
) -> pd.DataFrame:
    """One row per reference: outcome, store count, receivers missed, and the verdicts."""
    by_ref: dict[str, list[Stored]] = defaultdict(list)
    for row in stored:
        if row.ref is not None:
            by_ref[row.ref].append(row)
    by_channel: dict[str, list[Receiver]] = defaultdict(list)
    for receiver in receivers:
        by_channel[receiver.channel].append(receiver)
    rows = []
    for send in sends:
        copies = by_ref.get(send.ref, [])
        seq = copies[0].seq if copies else send.seq
        missed = 0
        if send.outcome == "ok" and copies and seq is not None:
            missed = sum(
                1 for r in by_channel[send.channel]
                if r.expects(send, seq=seq, grace_ms=grace_ms) and seq not in r.delivered
            )
        rows.append({
            "ref": send.ref, "channel": send.channel, "outcome": send.outcome, "seq": seq,
            "started_ms": send.started_ms, "ended_ms": send.ended_ms,
            "longest_ms": send.longest_ms, "stored": len(copies), "receivers_missed": missed,
        })
    frame = pd.DataFrame(rows, columns=[
        "ref", "channel", "outcome", "seq", "started_ms", "ended_ms", "longest_ms", "stored",
        "receivers_missed",
    ])
    ok = frame["outcome"] == "ok"
    frame["lost_from_store"] = ok & (frame["stored"] == 0)
    frame["undelivered"] = ok & (frame["receivers_missed"] > 0)
    frame["acknowledged_lost"] = frame["lost_from_store"] | frame["undelivered"]
    frame["duplicated"] = frame["stored"] > 1
    frame["recovered"] = (frame["outcome"] == "unknown") & (frame["stored"] > 0)
    frame["failed_present"] = (frame["outcome"] == "failed") & (frame["stored"] > 0)
    return frame


def totals(frame: pd.DataFrame) -> dict[str, int]:
    """Counts over (a slice of) the :func:`account` frame."""
    outcome = frame["outcome"]
    return {
        "sends": len(frame),
        "ok": int((outcome == "ok").sum()),
        "failed": int((outcome == "failed").sum()),
        "unknown": int((outcome == "unknown").sum()),
        "acknowledged_lost": int(frame["acknowledged_lost"].sum()),
        "lost_from_store": int(frame["lost_from_store"].sum()),
        "undelivered": int(frame["undelivered"].sum()),
        "duplicated": int(frame["duplicated"].sum()),
        "recovered": int(frame["recovered"].sum()),
        "failed_present": int(frame["failed_present"].sum()),
    }


def unrecorded(*, stored: Sequence[Stored], refs: set[str]) -> int:
    """Stored messages no send of the run recorded (foreign, or a recorder that lost it)."""
    return sum(1 for row in stored if row.ref is None or row.ref not in refs)


def receiver_gaps(
    *, stored: Sequence[Stored], receivers: Sequence[Receiver]
) -> dict[str, list[int]]:
    """Per receiver (``user@channel``): stored seqs within its delivered range it never got."""
    seqs: dict[str, set[int]] = defaultdict(set)
    for row in stored:
        seqs[row.channel].add(row.seq)
    gaps = {}
    for r in receivers:
        if not r.delivered:
            continue
        lo, hi = min(r.delivered), max(r.delivered)
        missing = sorted(s for s in seqs[r.channel] if lo <= s <= hi and s not in r.delivered)
        if missing:
            gaps[f"{r.user}@{r.channel}"] = missing
    return gaps
