"""The accounting rules on hand-made runs: each verdict caught, clean runs come out clean."""

from __future__ import annotations

import pandas as pd

from analysis.chaos.accounting import (
    Receiver,
    Send,
    Stored,
    account,
    receiver_gaps,
    receivers_from,
    totals,
    unrecorded,
)


def _send(ref: str, outcome: str, seq: int | None, t_ms: float = 10_000.0) -> Send:
    return Send(ref=ref, channel="c", outcome=outcome, seq=seq, started_ms=t_ms,
                ended_ms=t_ms + 50)


def _receiver(delivered: set[int], *, first: float = 0.0, last: float = 60_000.0) -> Receiver:
    return Receiver(user="u1", channel="c", first_poll_ms=first, last_poll_ms=last,
                    delivered=delivered)


def test_a_clean_run_has_no_verdicts() -> None:
    sends = [_send("a", "ok", 1), _send("b", "ok", 2), _send("c", "failed", None)]
    stored = [Stored("c", 1, "a"), Stored("c", 2, "b")]
    frame = account(sends=sends, stored=stored, receivers=[_receiver({1, 2})])
    got = totals(frame)
    assert got["sends"] == 3 and got["ok"] == 2 and got["failed"] == 1
    assert got["acknowledged_lost"] == got["duplicated"] == got["failed_present"] == 0


def test_each_anomaly_is_caught() -> None:
    sends = [
        _send("lost", "ok", 1),  # acknowledged, row gone
        _send("dup", "ok", 2),  # stored twice
        _send("unk", "unknown", None),  # unknown, yet committed
        _send("gone", "unknown", None),  # unknown, never committed: fine
        _send("liar", "failed", None),  # refused, yet committed
        _send("undel", "ok", 5),  # stored, but the receiver never got it
    ]
    stored = [Stored("c", 2, "dup"), Stored("c", 3, "dup"), Stored("c", 4, "unk"),
              Stored("c", 6, "liar"), Stored("c", 5, "undel"), Stored("c", 7, None)]
    receiver = _receiver({1, 2, 3, 4, 6})
    frame = account(sends=sends, stored=stored, receivers=[receiver]).set_index("ref")
    assert frame.loc["lost", "lost_from_store"] and frame.loc["lost", "acknowledged_lost"]
    assert frame.loc["dup", "duplicated"] and not frame.loc["dup", "acknowledged_lost"]
    assert frame.loc["unk", "recovered"] and not frame.loc["gone", "recovered"]
    assert frame.loc["liar", "failed_present"]
    assert frame.loc["undel", "undelivered"] and frame.loc["undel", "receivers_missed"] == 1
    got = totals(frame.reset_index())
    assert (got["acknowledged_lost"], got["duplicated"], got["recovered"]) == (2, 1, 1)
    assert unrecorded(stored=stored, refs=set(frame.index)) == 1
    assert receiver_gaps(stored=stored, receivers=[receiver]) == {"u1@c": [5]}


def test_only_receivers_polling_across_the_send_are_expected_to_get_it() -> None:
    send = _send("m", "ok", 3, t_ms=10_000.0)
    assert not _receiver(set(), first=10_001.0).expects(send, seq=3)  # opened after the send
    assert not _receiver(set(), last=10_500.0).expects(send, seq=3)  # stopped polling
    assert _receiver(set(), last=11_100.0).expects(send, seq=3)  # polled again later
    assert _receiver({4}, last=10_500.0).expects(send, seq=3)  # got past seq 3
    other = Receiver(user="u2", channel="d", first_poll_ms=0, last_poll_ms=60_000)
    assert not other.expects(send, seq=3)


def test_receivers_come_from_poll_and_message_samples() -> None:
    polls = pd.DataFrame({"t_ms": [1000, 5000, 3000], "user": ["a", "a", "b"],
                          "latency_ms": [10.0, 20.0, 5.0], "channel": ["c", "c", "c"]})
    deliveries = pd.DataFrame({"t_ms": [2000.0, 4000.0], "user": ["a", "a"],
                               "channel": ["c", "c"], "seq": [3, 4]})
    got = {r.user: r for r in receivers_from(polls=polls, deliveries=deliveries)}
    assert got["a"].first_poll_ms == 990.0 and got["a"].last_poll_ms == 4980.0
    assert got["a"].delivered == {3, 4} and got["b"].delivered == set()


def test_a_push_receiver_spans_its_deliveries() -> None:
    """No poll samples (long-poll, SSE, WebSocket): first to last delivery."""
    no_polls = pd.DataFrame(columns=["t_ms", "user", "latency_ms", "channel"])
    deliveries = pd.DataFrame({"t_ms": [7000.0, 3000.0, 5000.0], "user": ["p", "p", "p"],
                               "channel": ["c", "c", "c"], "seq": [9, 5, 7]})
    (push,) = receivers_from(polls=no_polls, deliveries=deliveries)
    assert (push.first_poll_ms, push.last_poll_ms, push.delivered) == (3000.0, 7000.0, {5, 7, 9})
    early = _send("m", "ok", 6, t_ms=2000.0)  # sent before the tab's first delivery
    assert not push.expects(early, seq=6)
    during = _send("m", "ok", 6, t_ms=4000.0)  # between deliveries: it got past seq 6
    assert during.channel == "c" and push.expects(during, seq=6)
