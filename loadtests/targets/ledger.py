"""The senders' ledger: which marked messages a target acknowledged, and when.

On a target without a contiguous per-channel ``seq`` a receiver cannot tell a gap
from a message that was never sent, so loss is found from the senders' side: every
acknowledged send is written here at once (one ``ZADD`` per send; sends are rare),
and at the end of the run each receiver is held to the rule *every message
acknowledged after my first poll started and before my last complete poll started
must have reached me* (:meth:`loadtests.targets.receive.MarkerReceiver.unseen`).

The ledger lives in the metrics Redis of the run (key in
:mod:`loadtests.recording.keys`), so receivers in any Locust process see the
senders of every process. A send whose outcome is unknown (timeout, reset) is not
in the ledger: it may or may not have landed, and is not counted either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import redis

from loadtests.recording.keys import ledger_key
from loadtests.targets.receive import LedgerEntry, MarkerReceiver

log = logging.getLogger(__name__)


class Ledger:
    """Writes and reads one run's ledger (the synchronous client: gevent makes it cooperative)."""

    def __init__(self, *, redis_url: str, run_id: str) -> None:
        self.run_id = run_id
        self._redis = redis.Redis.from_url(redis_url)
        self.write_errors = 0

    def acknowledged(self, *, channel: str, user: str, counter: int, ack_ms: float) -> None:
        """One acknowledged send (a Redis error is logged and counted, never raised)."""
        try:
            self._redis.zadd(ledger_key(run_id=self.run_id, channel=channel),
                             {f"{user}:{counter}": ack_ms})
        except redis.RedisError as exc:
            self.write_errors += 1
            log.warning("pollcap: ledger write failed (%s); loss may be under-counted", exc)

    def entries(self, *, channel: str) -> list[LedgerEntry]:
        """Every acknowledged send of ``channel``: (sender, counter, ack time ms)."""
        raw: Any = self._redis.zrange(ledger_key(run_id=self.run_id, channel=channel), 0, -1,
                                 withscores=True)
        out = []
        for member, score in raw:
            user, _, counter = member.decode().rpartition(":")
            out.append(LedgerEntry(user=user, counter=int(counter), ack_ms=float(score)))
        return out

    def close(self) -> None:
        self._redis.close()


def settle(receivers: Iterable[MarkerReceiver], *, ledger: Ledger) -> int:
    """Acknowledged messages some receiver should have seen and did not (each channel read once)."""
    by_channel: dict[str, list[MarkerReceiver]] = {}
    for receiver in receivers:
        by_channel.setdefault(receiver.channel, []).append(receiver)
    lost = 0
    for channel, group in by_channel.items():
        entries = ledger.entries(channel=channel)
        lost += sum(receiver.unseen(entries) for receiver in group)
    return lost
