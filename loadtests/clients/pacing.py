"""Client timing: a poll schedule that keeps its grid, and hidden/offline spells.

Pure bookkeeping over times in seconds with an injected RNG, so the Locust users
stay thin and the timing rules can be tested without a swarm.

Why a schedule and not ``wait_time``: Locust's ``constant(T)`` waits T *after*
each response, so every slow response shifts all later polls and the request
rate silently drops (coordinated omission at the client). Browsers poll from a
timer (``setInterval``): due times advance by T from the previous *due* time,
a late poll is late (and measured), and ticks missed by more than a whole
interval are dropped, not fired in a burst. Start phases are random and each
interval is jittered, or users with equal intervals fall into lockstep waves
after any stall.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(slots=True)
class Pacer:
    """The next due time of a periodic action, kept on its own grid."""

    next_due_s: float
    jitter: float
    rng: random.Random

    @classmethod
    def start(cls, *, now_s: float, interval_s: float, jitter: float, rng: random.Random) -> Pacer:
        """A schedule whose first tick falls at a random phase within one interval."""
        return cls(next_due_s=now_s + rng.uniform(0.0, interval_s), jitter=jitter, rng=rng)

    def advance(self, *, interval_s: float, now_s: float) -> int:
        """Step to the next due time; returns the number of ticks dropped for being behind.

        A poll late by less than one interval still happens (immediately); when the
        caller is a whole interval or more behind, the missed ticks are skipped and
        the schedule realigned to its grid.
        """
        step_s = interval_s * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
        self.next_due_s += step_s
        behind_s = now_s - self.next_due_s
        if behind_s < interval_s:
            return 0
        skipped = int(behind_s // interval_s)
        self.next_due_s += skipped * interval_s
        return skipped

    def restart(self, *, now_s: float, delay_s: float = 0.0) -> None:
        """Restart the grid at ``now_s + delay_s`` (after a hidden tab or an outage)."""
        self.next_due_s = now_s + delay_s


@dataclass(slots=True)
class Spells:
    """Random away spells (hidden tab, offline) filling ``share`` of the time on average.

    Spell lengths are exponential with mean ``mean_s``; gaps between them are
    exponential with mean ``mean_s * (1 - share) / share``.
    """

    share: float
    mean_s: float
    rng: random.Random
    start_s: float = math.inf
    end_s: float = math.inf

    @classmethod
    def begin(cls, *, share: float, mean_s: float, now_s: float, rng: random.Random) -> Spells:
        spells = cls(share=share, mean_s=mean_s, rng=rng)
        if spells.enabled:
            spells.start_s = now_s + spells._gap_s()
            spells.end_s = spells.start_s + rng.expovariate(1.0 / mean_s)
        return spells

    @property
    def enabled(self) -> bool:
        return 0.0 < self.share < 1.0 and self.mean_s > 0.0

    def _gap_s(self) -> float:
        return self.rng.expovariate(self.share / (self.mean_s * (1.0 - self.share)))

    def away_until(self, now_s: float) -> float | None:
        """The end of the spell in force at ``now_s``, or None when present."""
        while now_s >= self.end_s:
            self.start_s = self.end_s + self._gap_s()
            self.end_s = self.start_s + self.rng.expovariate(1.0 / self.mean_s)
        return self.end_s if now_s >= self.start_s else None


def retry_delay_ms(attempt: int) -> int:
    """useResilientPolling's back-off: ``min(1000 * 2**attempt, 30000)`` ms, attempt from 0."""
    return min(1000 * 2**attempt, 30_000)


MAX_RETRIES = 3
