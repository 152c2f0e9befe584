"""Sample rows as the recorder buffers them, the (score, member) texts it ships, and a
flush's ``ZADD`` commands (:func:`sample_commands`; error samples and send records:
:func:`outcome_commands`).

Member layouts are in :mod:`loadtests.recording.keys`; scores are receive times in ms
to 3 decimals (as redis-py wrote them).

Polls and messages, 12,500 rows a second at 10,000 tabs, also have a *frames* form:
each row straight to its RESP text (score and member with their lengths) in one pass.
Its score is the same number written as integer µs with an exponent
(``1764633600123457e-3``): Redis parses it to the same double as
``1764633600123.457``, and an integer's text costs less than a float's (0.62 µs a
row here, against 0.90 µs with ``f"{t:.3f}"`` and 3.6 µs for pairs then frames on a
slower hour). That score is 19 characters from 2001 to 2286; a batch with a row
outside that (a broken clock) gets None and goes the pairs way.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from loadtests.recording import resp
from loadtests.recording.keys import run_sends_key, samples_key

PollRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, channel
MessageRow = tuple[float, str, int, float, str, int]  # ... channel, seq
NotificationRow = tuple[float, str, int, float]
ReconnectRow = NotificationRow  # t_ms, user, n, latency_ms
ErrorRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, request name


def poll_pairs(rows: Sequence[PollRow]) -> list[tuple[str, str]]:
    """(score, member) texts: score = receive time ms to 3 decimals (as redis-py wrote it)."""
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{c}") for t, u, n, lat, c in rows]


SCORE_MIN_MS, SCORE_MAX_MS = 1e12, 1e13  # 19-character scores ("1764633600000000e-3")


def _scores_fit(rows: Sequence[tuple[Any, ...]]) -> bool:
    return bool(rows) and SCORE_MIN_MS <= min(r[0] for r in rows) and max(
        r[0] for r in rows) < SCORE_MAX_MS - 1


def poll_frames(rows: Sequence[PollRow]) -> list[str] | None:
    """The RESP text of each row's (score, member) pair; None: use :func:`poll_pairs`."""
    if not _scores_fit(rows):
        return None
    frames = []
    for t, u, n, lat, c in rows:
        member = f"{u}:{n}:{lat:.3f}:{c}"
        frames.append(f"$19\r\n{round(t * 1000.0)}e-3\r\n${len(member)}\r\n{member}\r\n")
    return frames


def message_frames(rows: Sequence[MessageRow]) -> list[str] | None:
    """The RESP text of each row's (score, member) pair; None: use :func:`message_pairs`."""
    if not _scores_fit(rows):
        return None
    frames = []
    for t, u, n, lat, c, seq in rows:
        member = f"{u}:{n}:{lat:.3f}:{c}:{seq}"
        frames.append(f"$19\r\n{round(t * 1000.0)}e-3\r\n${len(member)}\r\n{member}\r\n")
    return frames


def message_pairs(rows: Sequence[MessageRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{c}:{s}") for t, u, n, lat, c, s in rows]


def notification_pairs(rows: Sequence[NotificationRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}") for t, u, n, lat in rows]


def error_pairs(rows: Sequence[ErrorRow]) -> list[tuple[str, str]]:
    return [(f"{t:.3f}", f"{u}:{n}:{lat:.3f}:{name}") for t, u, n, lat, name in rows]


def sample_commands(
    run_id: str,
    *,
    polls: Sequence[PollRow],
    messages: Sequence[MessageRow],
    notes: Sequence[NotificationRow],
    reconnects: Sequence[ReconnectRow],
    chunk: int,
) -> list[bytes]:
    """The ``ZADD`` commands of one flush's samples, ``chunk`` members each at most."""
    key = partial(samples_key, run_id=run_id)
    commands = resp.zadd_rows(key(sample_type="poll"), polls, frames=poll_frames,
                              pairs=poll_pairs, chunk=chunk)
    commands += resp.zadd_rows(key(sample_type="message"), messages, frames=message_frames,
                               pairs=message_pairs, chunk=chunk)
    for sample_type, rows in (("notification", notes), ("reconnect", reconnects)):
        commands += resp.zadd_chunks(key(sample_type=sample_type), notification_pairs(rows),
                                     chunk=chunk)
    return commands


def outcome_commands(
    run_id: str, *, errors: Sequence[ErrorRow], sends: Sequence[tuple[str, bytes]], chunk: int
) -> list[bytes]:
    """Error samples' ``ZADD``s and one ``HSET`` of the send records (chaos accounting)."""
    key = samples_key(run_id=run_id, sample_type="error")
    commands = resp.zadd_chunks(key, error_pairs(errors), chunk=chunk)
    if sends:
        fields = (x for ref, record in sends for x in (ref, record))
        commands.append(resp.command("HSET", run_sends_key(run_id=run_id), *fields))
    return commands
