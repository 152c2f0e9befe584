"""A shape whose next user count is decided while it runs (the knee-finding ramp).

The capacity runner judges each step as it ends and writes the next user count (or
``stop``) into the run's Redis key ``run:{run}:next_users``
(:func:`loadtests.recording.keys.run_next_users_key`). The Locust shape reads that
key on every tick and holds the count it was last told. The swarm stays bounded by
itself even if the runner dies: :class:`LiveTarget` never exceeds its own
``max_users`` and ends at ``max_s`` after the start whatever the key says (and
Locust's ``--run-time`` is the same cap once more).

Spec: ``live:start=500,max=20000`` (``start`` is held until the key says otherwise;
the time cap is the swarm's duration). This module does not import Locust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from loadtests.recording.keys import NEXT_USERS_STOP, run_next_users_key

Stop = None  # what a shape's tick returns to end the test


def parse_next_users(raw: bytes | str | None, *, current: int, max_users: int) -> int | None:
    """The count to hold given the key's value: None to stop, ``current`` if unset or bad.

    A count above ``max_users`` is clipped to it; the runner never asks for that, but
    the shape's bound must not depend on the runner being right.
    """
    if raw is None:
        return current
    text = raw.decode() if isinstance(raw, bytes) else raw
    text = text.strip()
    if text == NEXT_USERS_STOP:
        return Stop
    try:
        users = int(text)
    except ValueError:
        return current
    return current if users < 1 else min(users, max_users)


@dataclass
class LiveTarget:
    """The live shape's state: which count to hold, read from Redis, within its own caps."""

    client: redis.Redis
    run_id: str
    start_users: int
    max_users: int
    max_s: float
    current: int = 0

    def __post_init__(self) -> None:
        self.current = min(self.start_users, self.max_users)

    def users(self, *, elapsed_s: float) -> int | None:
        """Users to hold ``elapsed_s`` after the start, or None to stop the test."""
        if elapsed_s >= self.max_s:
            return Stop
        try:
            raw: Any = self.client.get(run_next_users_key(run_id=self.run_id))
        except redis.RedisError:
            return self.current  # the runner's Redis blinked: hold, the time cap still holds
        told = parse_next_users(raw, current=self.current, max_users=self.max_users)
        if told is None:
            return Stop
        self.current = told
        return told


def publish_next_users(client: redis.Redis, *, run_id: str, users: int | None) -> None:
    """Tell a live shape what to hold next (``None``: stop). The key expires after a day."""
    value = NEXT_USERS_STOP if users is None else str(int(users))
    client.set(run_next_users_key(run_id=run_id), value, ex=24 * 3600)
