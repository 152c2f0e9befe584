"""Hand-packed RESP commands, shipped to the real Valkey: what lands is what was meant."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from loadtests.recording import resp
from target_service.embedded.stack import StackInfo


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
