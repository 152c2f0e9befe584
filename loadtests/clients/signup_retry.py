"""When a tab retries its sign-up, and how long it waits first (pure; the tab does the I/O).

A step of the capacity ramp spawns hundreds of tabs within a second or two, and each
signs up first: a burst the service may answer 503 (no connection in time: nothing was
written), 504, or not at all in time. Those answers are the service saying "later", so
the tab retries, bounded in attempts (``SIGN_UP_MAX_ATTEMPTS``) and in time
(``SIGN_UP_BUDGET_S``), after an exponential back-off with jitter: retries spread over
a second instead of coming back as the same burst (the first wait is at least the
service's default ``Retry-After`` of 1 s; the tab's lean connection reads no other
header than the interval hint, so the header itself is not read).

Locust shows each retried attempt as a failure under its own name
(``SIGN_UP_RETRIED_NAME``); it is not an error of the run (the counters a capacity step
judges). A sign-up that gives up, or fails otherwise (a 500, a refused body), is one,
under ``SIGN_UP_NAME``. A 4xx other than 429 is not retried: the same request would get
the same answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

OVERLOAD_STATUSES = frozenset({0, 429, 502, 503, 504})  # 0: no answer (timeout, reset)
SIGN_UP_MAX_ATTEMPTS = 6
SIGN_UP_BUDGET_S = 90.0  # no retry starts later than this after the first attempt
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 16.0
JITTER = 0.5  # each wait is drawn from [1 - JITTER, 1 + JITTER] x the back-off


@dataclass(frozen=True, slots=True)
class SignUpVerdict:
    retry: bool  # try again after sign_up_delay_s
    error: bool  # counts as an error of the run (else: a retried overload answer)


def sign_up_verdict(*, status: int, attempt: int, elapsed_s: float) -> SignUpVerdict:
    """What a failed sign-up attempt (``attempt`` from 0, not the expected status) means."""
    more = attempt + 1 < SIGN_UP_MAX_ATTEMPTS and elapsed_s < SIGN_UP_BUDGET_S
    if status in OVERLOAD_STATUSES:
        return SignUpVerdict(retry=more, error=not more)
    if status >= 500:
        return SignUpVerdict(retry=more, error=True)
    return SignUpVerdict(retry=False, error=True)


def sign_up_delay_s(*, attempt: int, rng: random.Random) -> float:
    """The wait before attempt ``attempt + 1``: 1, 2, 4, 8, 16, 16 ... s, jittered."""
    backoff_s = min(FIRST_DELAY_S * 2**attempt, MAX_DELAY_S)
    return backoff_s * rng.uniform(1 - JITTER, 1 + JITTER)
