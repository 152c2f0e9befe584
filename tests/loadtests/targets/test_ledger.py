"""The senders' ledger on a real Valkey: written per acknowledged send, settled per channel."""

from __future__ import annotations

from loadtests.targets.ledger import Ledger, settle
from loadtests.targets.markers import Marker
from loadtests.targets.receive import MarkerReceiver
from target_service.embedded.stack import StackInfo


def text(user: str, counter: int, sent_ms: int) -> dict[str, str]:
    return {"text": Marker("run1", user, counter, sent_ms).text()}


def test_entries_come_back_per_channel_with_their_acknowledgement_times(
    clean_backends: StackInfo,
) -> None:
    ledger = Ledger(redis_url=clean_backends.redis_url, run_id="run1")
    try:
        ledger.acknowledged(channel="c1", user="tab-1", counter=1, ack_ms=1000.5)
        ledger.acknowledged(channel="c1", user="tab-2", counter=1, ack_ms=1001.0)
        ledger.acknowledged(channel="c2", user="tab-1", counter=2, ack_ms=1002.0)
        found = ledger.entries(channel="c1")
        assert [(e.user, e.counter, e.ack_ms) for e in found] == [
            ("tab-1", 1, 1000.5), ("tab-2", 1, 1001.0)]
        assert ledger.entries(channel="c3") == []
    finally:
        ledger.close()


def test_settle_counts_an_acknowledged_message_a_receiver_never_got(
    clean_backends: StackInfo,
) -> None:
    """The service acknowledged tab-1's 2nd message and lost it: one loss per receiver."""
    ledger = Ledger(redis_url=clean_backends.redis_url, run_id="run1")
    receivers = [MarkerReceiver(run_id="run1", channel="c1", joined_ms=0.0) for _ in range(2)]
    try:
        for counter, ack_ms in ((1, 1100.0), (2, 1200.0), (3, 1300.0)):
            ledger.acknowledged(channel="c1", user="tab-1", counter=counter, ack_ms=ack_ms)
        for r in receivers:
            r.polled(start_ms=1000.0, complete=True)
            r.take([text("tab-1", 1, 1090), text("tab-1", 3, 1290)], recv_ms=1500.0,
                   content=lambda m: m["text"], created_ms=None)
            r.polled(start_ms=2000.0, complete=True)
        assert settle(receivers, ledger=ledger) == 2
    finally:
        ledger.close()
