"""Sends with a client reference: the Jepsen-style record of every message a tab posts.

Every send carries a reference of its own, in the message text (so a read-back of
the store finds it) and as the ``Idempotency-Key`` header (so a retry after an
unknown outcome cannot post it twice, once the service honours the key). Each
attempt ends in one of three ways:

* **ok**: 201, the service acknowledged a committed message;
* **failed**: a definite refusal (any other HTTP status);
* **unknown**: no answer (timeout, connection refused or lost): the message may or
  may not have been committed.

Only unknown attempts are retried, with the same reference. The send's outcome is
``ok`` when any attempt was acknowledged, ``failed`` only when every attempt was
refused (a refusal after an unknown attempt does not undo that attempt), ``unknown``
otherwise. The send is recorded as unknown before its first attempt and again after
every attempt, so a tab stopped mid-attempt (the end of a swarm kills its users, a
WebSocket send may be waiting for its ack) still leaves its send on record: stored, it
counts as recovered, not as a message nobody sent. :func:`send_tracked` drives the attempts over
any transport (the caller passes one attempt as a function), so the Locust user keeps
only the I/O.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from loadtests.clients.pacing import MAX_RETRIES

Outcome = Literal["ok", "failed", "unknown"]
IDEMPOTENCY_HEADER = "Idempotency-Key"
NO_ANSWER = 0  # the status of an attempt that got no HTTP answer
REF_PATTERN = re.compile(r"^\[([A-Za-z0-9._-]{1,80})\]")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt of a send: its status (``NO_ANSWER`` = none) and duration."""

    status: int
    started_ms: float
    elapsed_ms: float


def new_ref(*, user: str, n: int, rng: random.Random) -> str:
    """A reference unique per run: the user, its send number, and 32 random bits."""
    return f"{user}.{n}.{rng.getrandbits(32):08x}"


def message_text(*, ref: str, body: str) -> str:
    """The message content: the reference first, where :func:`ref_of` finds it."""
    return f"[{ref}] {body}"


def ref_of(content: str) -> str | None:
    """The client reference in a stored message's content (None for foreign messages)."""
    found = REF_PATTERN.match(content)
    return found.group(1) if found else None


def attempt_outcome(status: int) -> Outcome:
    if status == 201:
        return "ok"
    return "unknown" if status == NO_ANSWER else "failed"


def send_outcome(attempts: Sequence[Attempt]) -> Outcome:
    """The outcome of a send from all its attempts (see the module docstring)."""
    outcomes = {attempt_outcome(a.status) for a in attempts}
    if "ok" in outcomes:
        return "ok"
    return "unknown" if "unknown" in outcomes or not outcomes else "failed"


def should_retry(attempts: Sequence[Attempt], *, max_retries: int = MAX_RETRIES) -> bool:
    """Retry only an unknown last attempt, at most ``max_retries`` times."""
    return bool(attempts) and attempts[-1].status == NO_ANSWER and len(attempts) <= max_retries


def send_record(
    *, channel: str, user: str, attempts: Sequence[Attempt], seq: int | None
) -> dict[str, Any]:
    """What the metrics Redis keeps per reference (``run:{run}:sends``)."""
    return {
        "channel": channel,
        "user": user,
        "outcome": send_outcome(attempts),
        "seq": seq,
        "started_ms": round(attempts[0].started_ms, 3) if attempts else None,
        "ended_ms": round(attempts[-1].started_ms + attempts[-1].elapsed_ms, 3)
        if attempts
        else None,
        "statuses": [a.status for a in attempts],
        "longest_ms": round(max((a.elapsed_ms for a in attempts), default=0.0), 3),
    }


def send_tracked(
    *,
    attempt: Callable[[], tuple[int, int | None]],
    record: Callable[[list[Attempt], int | None], None],
    sleep_s: Callable[[float], None],
    retry_delay_s: Callable[[int], float],
    clock_ms: Callable[[], float] = lambda: time.time() * 1000.0,
    max_retries: int = MAX_RETRIES,
) -> Outcome:
    """Attempt a send until it is answered (or retries run out), recording after each try.

    ``attempt()`` makes one HTTP attempt with the send's reference and returns
    ``(status, seq)``: ``NO_ANSWER`` when nothing came back, ``seq`` when 201.
    """
    attempts: list[Attempt] = []
    seq: int | None = None
    while True:
        started_ms = clock_ms()
        if not attempts:  # on record (unknown) before the first answer: see the module doc
            record([Attempt(NO_ANSWER, started_ms, 0.0)], None)
        status, got = attempt()
        attempts.append(Attempt(status, started_ms, clock_ms() - started_ms))
        seq = got if status == 201 else seq
        record(attempts, seq)
        if not should_retry(attempts, max_retries=max_retries):
            return send_outcome(attempts)
        sleep_s(retry_delay_s(len(attempts) - 1))
