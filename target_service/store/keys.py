"""Every Redis key and pub/sub channel the service uses, formatted here and nowhere else.

The names are the source design's (``chat:{channelId}:{after|all}``, ``chat:recent:...``,
``notifications:unread:{userId}``, ``metrics:{type}:latency``), so a Redis shared with
the design's own Node service reads the same. The load test's keys (run-scoped
samples and counters) live apart, in ``loadtests.recording.keys``.
"""

from __future__ import annotations

from target_service.params import DEFAULT_LIMIT

LATEST_KEY = "chat:latest"
"""Sorted set channel -> latest committed seq (``ZADD ... GT``): the fresh cache's version."""

VERSIONS_CHANNEL = "chat:versions"
"""Pub/sub channel of ``"{channel} {seq}"`` pushes after each commit."""


def seed_key(channel_id: str, *, after: int | None, limit: int) -> str:
    """The source's poll cache (``EX seed_ttl_s``); a non-default limit gets its own key."""
    key = f"chat:{channel_id}:{'all' if after is None else after}"
    return key if limit == DEFAULT_LIMIT else f"{key}:{limit}"  # the source had no limit


def recent_key(channel_id: str) -> str:
    """Level 1: the channel's recent messages, scored by seq."""
    return f"chat:recent:{channel_id}"


def channel_meta_key(channel_id: str) -> str:
    """Level 2: the channel's metadata (JSON)."""
    return f"chat:meta:{channel_id}"


def online_key(channel_id: str) -> str:
    """Level 3: users seen polling the channel, scored by last-seen ms."""
    return f"chat:online:{channel_id}"


def message_times_key(channel_id: str) -> str:
    """Send times (ms) of the channel's recent messages: the message rate."""
    return f"chat:times:{channel_id}"


def unread_key(user_id: int) -> str:
    return f"notifications:unread:{user_id}"


def new_flag_key(user_id: int) -> str:
    """``SET ... 1 EX new_flag_ttl_s`` on a new notification, as the source does."""
    return f"notifications:new:{user_id}"


def idempotency_key(channel_id: str, author_id: int, key: str) -> str:
    """Cache of an ``Idempotency-Key`` -> the message it created (PostgreSQL is the truth)."""
    return f"chat:idem:{channel_id}:{author_id}:{key}"


def service_latency_key(kind: str) -> str:
    """The service's own handling-time samples of one type (not the load test's)."""
    return f"metrics:{kind}:latency"
