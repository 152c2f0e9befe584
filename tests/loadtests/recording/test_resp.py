"""Hand-packed RESP commands, shipped to the real Valkey: what lands is what was meant."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis

from loadtests.recording import resp
from loadtests.recording import rows as rows_mod
from target_service.embedded.stack import StackInfo

# a row kind's two writers, as the recorder pairs them (poll rows with poll_frames...)
Frames = Callable[[Sequence[Any]], list[str] | None]
Pairs = Callable[[Sequence[Any]], list[tuple[str, str]]]


def test_zadd_and_commands_land_in_redis(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    pairs = [(f"{1000 + i}.125", f"u{i}:{i}:1.500:c1") for i in range(7)]
    commands = [
        *resp.zadd_chunks("z", pairs, chunk=3),
        resp.command("HINCRBY", "h", "polls", 5),
        resp.command("SADD", "s", b'"x"', b"17"),
    ]
    assert len(commands) == 5  # 3 + 3 + 1 members, then two commands
    resp.ship(client, commands)
    got: Any = client.zrange("z", 0, -1, withscores=True)
    assert [(m.decode(), s) for m, s in got] == [(m, float(s)) for s, m in pairs]
    assert client.hget("h", "polls") == b"5" and client.scard("s") == 2
    client.close()


def test_non_ascii_members_keep_their_byte_lengths(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    resp.ship(client, [resp.zadd("z", [("1.0", "ü:1:2.000")])])
    assert client.zrange("z", 0, -1) == ["ü:1:2.000".encode()]
    client.close()


def test_an_error_reply_raises_and_the_connection_is_not_reused(
    clean_backends: StackInfo,
) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    client.set("str", "x")
    with pytest.raises(redis.ResponseError):
        resp.ship(client, [resp.command("HINCRBY", "str", "f", 1), resp.command("PING")])
    assert client.ping()  # the next command does not read the stale PONG
    client.close()


def test_row_frames_land_as_the_same_members_and_scores_as_pairs(
    clean_backends: StackInfo,
) -> None:
    """Frames write the score as integer µs with an exponent; Redis reads the same double
    (to the µs) as from the pairs' ms-to-3-decimals text, across 2001-2286 (the two may
    round a time exactly half-way between two µs apart; not these)."""
    client = redis.Redis.from_url(clean_backends.redis_url)
    for t in (1_764_633_600_123.457, 1_000_000_000_000.001, 9_999_999_999_990.999):
        polls = [(t + i * 0.333, f"{i}", i + 1, 0.25 * i, "general") for i in range(7)]
        messages = [(t + i, f"{i}", i + 1, 1.5 * i, "c-9", 100 + i) for i in range(7)]
        kinds: list[tuple[Sequence[Any], Frames, Pairs]] = [
            (polls, rows_mod.poll_frames, rows_mod.poll_pairs),
            (messages, rows_mod.message_frames, rows_mod.message_pairs),
        ]
        for rows, frames, pairs in kinds:
            framed = resp.zadd_rows("framed", rows, frames=frames, pairs=pairs, chunk=3)
            assert len(framed) == 3 and b"e-3" in framed[0]
            resp.ship(client, framed + resp.zadd_chunks("paired", pairs(rows), chunk=3))
            assert client.zrange("framed", 0, -1, withscores=True) == client.zrange(
                "paired", 0, -1, withscores=True)
            client.delete("framed", "paired")
    client.close()


@pytest.mark.parametrize("t_ms", [999_999_999_999.0, 10_000_000_000_000.0])
def test_a_clock_outside_2001_2286_goes_the_pairs_way(t_ms: float) -> None:
    rows = [(1_764_633_600_000.0, "1", 1, 2.0, "c"), (t_ms, "1", 2, 2.0, "c")]
    assert rows_mod.poll_frames(rows) is None
    framed = resp.zadd_rows("z", rows, frames=rows_mod.poll_frames, pairs=rows_mod.poll_pairs,
                            chunk=10)
    assert framed == [resp.zadd("z", rows_mod.poll_pairs(rows))]


def test_non_ascii_rows_keep_their_byte_lengths(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    rows = [(1_764_633_600_000.5, "ü", 1, 2.0, "c")]
    resp.ship(client, resp.zadd_rows("z", rows, frames=rows_mod.poll_frames,
                                     pairs=rows_mod.poll_pairs, chunk=10))
    assert client.zrange("z", 0, -1, withscores=True) == [
        ("ü:1:2.000:c".encode(), 1_764_633_600_000.5)]
    client.close()
