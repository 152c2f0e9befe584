"""The subscription's rules, without a server: only seq == cursor + 1 is queued; a gap or a
full queue turns it to catching up by cursor, which rejoins live only at the feed's seq."""

from __future__ import annotations

import asyncio

from target_service.realtime.counters import RealtimeCounters
from target_service.realtime.hub import FEED_LINGER_S, Feed, Hub, Subscription
from target_service.store.messages import Message


def msgs(*seqs: int) -> list[Message]:
    return [Message(seq=s, created_at_ms=0, json=b"{}") for s in seqs]


class History:
    """What a worker's cache would answer: the channel's messages after a cursor."""

    def __init__(self, last_seq: int, feed_seq: int) -> None:
        self.last_seq = last_seq
        self.feed = feed_seq

    async def fetch(self, channel: str, after_seq: int) -> list[Message]:
        return msgs(*range(after_seq + 1, min(self.last_seq, after_seq + 3) + 1))

    def feed_seq(self, channel: str) -> int:
        return self.feed


def live(cursor: int, max_queue: int = 3) -> Subscription:
    sub = Subscription(channel="c", user_id=1, cursor=cursor, wake=asyncio.Event(),
                       max_queue=max_queue)
    sub.lagging = False
    return sub


def test_contiguous_messages_are_queued_and_repeats_dropped() -> None:
    sub, counters = live(4), RealtimeCounters()
    sub.offer(msgs(3, 4, 5, 6), counters)
    assert [m.seq for m in sub.queue] == [5, 6] and sub.cursor == 6 and not sub.lagging


def test_gap_or_full_queue_switches_to_catch_up() -> None:
    gap, full, counters = live(4), live(0, max_queue=2), RealtimeCounters()
    gap.offer(msgs(6), counters)
    full.offer(msgs(1, 2, 3), counters)
    assert gap.lagging and gap.cursor == 4 and not gap.queue
    assert full.lagging and full.cursor == 2
    assert counters.catchups == 2


async def test_catch_up_pages_to_the_feed_then_rejoins_live() -> None:
    sub = live(2)
    sub.lagging = True
    history = History(last_seq=7, feed_seq=7)
    got: list[int] = []
    while sub.busy:
        got += [m.seq for m in await sub.take(history)]  # type: ignore[arg-type]
    assert got == [3, 4, 5, 6, 7] and not sub.lagging
    sub.offer(msgs(8), RealtimeCounters())
    assert [m.seq for m in await sub.take(history)] == [8]  # type: ignore[arg-type]


async def test_catch_up_does_not_rejoin_before_the_feed() -> None:
    """The feed fanned out seq 5 while the fetch saw only 4: stay lagging, fetch again."""
    sub = live(4)
    sub.lagging = True
    history = History(last_seq=4, feed_seq=5)
    assert await sub.take(history) == []  # type: ignore[arg-type]
    assert sub.lagging
    history.last_seq = 5
    assert [m.seq for m in await sub.take(history)] == [5]  # type: ignore[arg-type]


def test_a_released_feed_lingers_then_is_reaped_unless_held_again() -> None:
    """A woken long-poll re-polls within ms: its feed (and version) must still be there."""
    hub = Hub.__new__(Hub)  # the feed table only: no state, no tasks
    hub.feeds = {"a": Feed(3), "b": Feed(5)}
    hub.release("a")
    hub.release("b")
    loop = asyncio.new_event_loop()
    hub.feeds["b"].waiters.add(loop.create_future())  # held again
    loop.close()
    idle_at = hub.feeds["a"].idle_at
    assert idle_at is not None
    hub.reap(now_s=idle_at + FEED_LINGER_S / 2)
    assert set(hub.feeds) == {"a", "b"}
    hub.reap(now_s=idle_at + FEED_LINGER_S)
    assert set(hub.feeds) == {"b"}
