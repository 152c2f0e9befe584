"""Loss detection: one receiver's view of one channel's ``seq`` stream.

The service numbers each channel's messages 1, 2, 3, ... in commit order, so a
receiver polling with a cursor must see every number exactly once, in order.
Anything else is a bug the load test must report, not average away:

* a **gap** (``seq`` jumps past numbers never seen) counts each missing number as
  *lost* the moment it is noticed;
* a missing number that shows up later is a **reorder**: it is taken back out of
  *lost* and counted as *reordered*;
* a number seen before is a **duplicate**.

Pure bookkeeping, no I/O: the Locust user feeds it and ships the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SeqCounts:
    """Counter deltas produced by one :meth:`SeqTracker.observe` call (lost may be negative)."""

    fresh: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0

    def add(self, other: SeqCounts) -> None:
        self.fresh += other.fresh
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.reordered += other.reordered


@dataclass(slots=True)
class SeqTracker:
    """Tracks the highest ``seq`` seen and the numbers still missing below it.

    ``first_seq`` is the number the stream must start at (1 for a receiver that
    reads the channel from its beginning).
    """

    first_seq: int = 1
    highest: int = 0
    missing: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.highest = self.first_seq - 1

    def observe(self, seq: int) -> SeqCounts:
        """Account for one received message number; returns what it changed."""
        if seq == self.highest + 1:
            self.highest = seq
            return SeqCounts(fresh=1)
        if seq > self.highest:
            gap = range(self.highest + 1, seq)
            self.missing.update(gap)
            self.highest = seq
            return SeqCounts(fresh=1, lost=len(gap))
        if seq in self.missing:
            self.missing.discard(seq)
            return SeqCounts(fresh=1, lost=-1, reordered=1)
        return SeqCounts(duplicated=1)

    def observe_all(self, seqs: list[int]) -> SeqCounts:
        total = SeqCounts()
        for seq in seqs:
            total.add(self.observe(seq))
        return total

    def is_new(self, seq: int) -> bool:
        """Whether ``seq`` would count as a fresh delivery (not a duplicate)."""
        return seq > self.highest or seq in self.missing
