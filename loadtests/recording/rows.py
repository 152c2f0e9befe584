"""Sample rows as the recorder buffers them, and as the (score, member) texts it ships.

Member layouts are in :mod:`loadtests.recording.keys`; scores are receive times in ms
to 3 decimals (as redis-py wrote them).
"""

from __future__ import annotations

PollRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, channel
MessageRow = tuple[float, str, int, float, str, int]  # ... channel, seq
NotificationRow = tuple[float, str, int, float]
ReconnectRow = NotificationRow  # t_ms, user, n, latency_ms
ErrorRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, request name


def poll_pairs(rows: list[PollRow]) -> list[tuple[str, str]]:
    """(score, member) texts: score = receive time ms to 3 decimals (as redis-py wrote it)."""
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{c}") for t, u, n, lat, c in rows]


def message_pairs(rows: list[MessageRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{c}:{s}") for t, u, n, lat, c, s in rows]


def notification_pairs(rows: list[NotificationRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}") for t, u, n, lat in rows]


def error_pairs(rows: list[ErrorRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{name}") for t, u, n, lat, name in rows]
