"""The marker path's receiver: duplicates by marker, latency from the send time, loss
against the senders' ledger inside the receiver's window (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from loadtests.targets.markers import Marker
from loadtests.targets.receive import LedgerEntry, MarkerReceiver, sample_seq

RUN = "r1"


def message(user: str, counter: int, sent_ms: int, *, at_ms: float = 0.0) -> dict[str, Any]:
    return {"text": f"{Marker(RUN, user, counter, sent_ms).text()} hi", "at": at_ms}


def content(m: dict[str, Any]) -> Any:
    return m["text"]


def receiver(joined_ms: float = 1000.0) -> MarkerReceiver:
    return MarkerReceiver(run_id=RUN, channel="c", joined_ms=joined_ms)


def test_latency_is_receive_time_minus_the_markers_send_time_unless_created_at_is_trusted() -> None:
    r = receiver()
    taken = r.take([message("a", 1, 2000, at_ms=2500.0)], recv_ms=2600.0, content=content,
                   created_ms=None)
    assert [lat for lat, _ in taken.samples] == [600.0]
    taken = r.take([message("a", 2, 3000, at_ms=3100.0)], recv_ms=3600.0, content=content,
                   created_ms=lambda m: m["at"])
    assert [lat for lat, _ in taken.samples] == [500.0]


def test_a_marker_seen_twice_is_one_duplicate_and_no_second_sample() -> None:
    r = receiver()
    first = r.take([message("a", 1, 2000), message("b", 1, 2001)], recv_ms=2100.0,
                   content=content, created_ms=None)
    again = r.take([message("a", 1, 2000)], recv_ms=4100.0, content=content, created_ms=None)
    assert len(first.samples) == 2 and first.duplicated == 0
    assert again.samples == [] and again.duplicated == 1


def test_history_other_runs_and_unmarked_messages_give_no_sample() -> None:
    r = receiver(joined_ms=5000.0)
    other = {"text": Marker("other", "a", 1, 6000).text()}
    taken = r.take([message("a", 1, 2000), other, {"text": "plain"}, {"text": None}],
                   recv_ms=6100.0, content=content, created_ms=None)
    assert taken.samples == [] and taken.duplicated == 0
    assert r.seen("a", 1)  # history still starts the sender's stream


def test_sample_seqs_tell_senders_apart_in_one_channel() -> None:
    assert sample_seq(Marker(RUN, "a", 1, 0)) != sample_seq(Marker(RUN, "b", 1, 0))
    assert sample_seq(Marker(RUN, "a", 2, 0)) == sample_seq(Marker(RUN, "a", 1, 0)) + 1


def test_an_acknowledged_message_missing_inside_the_window_is_lost() -> None:
    r = receiver()
    r.polled(start_ms=1000.0, complete=True)
    r.take([message("a", 1, 1100), message("a", 3, 1300)], recv_ms=3000.0, content=content,
           created_ms=None)
    r.polled(start_ms=3000.0, complete=True)
    ledger = [LedgerEntry("a", 1, 1110.0), LedgerEntry("a", 2, 1210.0),
              LedgerEntry("a", 3, 1310.0)]
    assert r.unseen(ledger) == 1  # a:2 acknowledged at 1210, never received


def test_tails_and_unseen_senders_count_but_not_outside_the_window() -> None:
    r = receiver()
    r.polled(start_ms=1000.0, complete=True)
    r.take([message("a", 1, 1100)], recv_ms=2000.0, content=content, created_ms=None)
    r.polled(start_ms=4000.0, complete=True)
    r.polled(start_ms=6000.0, complete=False)  # a full page: not proof of completeness
    ledger = [
        LedgerEntry("a", 1, 1110.0),
        LedgerEntry("a", 2, 3000.0),  # a tail, acknowledged before the last complete poll
        LedgerEntry("b", 1, 3500.0),  # a sender this receiver never saw at all
        LedgerEntry("a", 0, 900.0),  # before the first poll: joining is not loss
        LedgerEntry("a", 3, 5000.0),  # after the last complete poll: may still be coming
    ]
    assert r.unseen(ledger) == 2


def test_a_receiver_that_never_completed_a_poll_is_not_judged() -> None:
    r = receiver()
    r.polled(start_ms=1000.0, complete=False)
    assert r.unseen([LedgerEntry("a", 1, 2000.0)]) == 0
