"""Store internals: the in-process channel entry, the RESP fast path, version batching."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from target_service.store.backends import RedisDown, RedisGuard, open_redis
from target_service.store.cache import ChannelEntry, VersionBatcher
from target_service.store.keys import LATEST_KEY
from target_service.store.messages import make_message
from target_service.store.resp import RespClient, RespError, encode, parse
from target_service.store.users import TokenCache, User


def msgs(first: int, last: int) -> list:
    return [make_message(channel_id="c", seq=s, content=f"m{s}", created_at_ms=s,
                         author={"id": 1, "name": "a", "image": None})
            for s in range(first, last + 1)]


def seqs(entry: ChannelEntry, *, after: int | None, limit: int) -> list[int]:
    """The seqs of a slice answered from memory (it must be answered: not None)."""
    got = entry.slice(after=after, limit=limit)
    assert got is not None
    return [m.seq for m in got]


def test_entry_slices_by_cursor_and_knows_what_it_lacks() -> None:
    entry = ChannelEntry(latest_seq=20, messages=msgs(11, 20), size=10)
    assert seqs(entry, after=14, limit=3) == [15, 16, 17]
    assert entry.slice(after=20, limit=50) == []
    assert entry.slice(after=99, limit=50) == []
    assert seqs(entry, after=10, limit=50) == list(range(11, 21))
    assert entry.slice(after=9, limit=50) is None  # seq 10 is not kept: ask PostgreSQL
    assert seqs(entry, after=None, limit=3) == [18, 19, 20]
    assert entry.slice(after=None, limit=11) is None
    whole = ChannelEntry(latest_seq=3, messages=msgs(1, 3), size=10)
    assert seqs(whole, after=None, limit=50) == [1, 2, 3]


def test_entry_extends_only_contiguously_and_trims() -> None:
    entry = ChannelEntry(latest_seq=2, messages=msgs(1, 2), size=3)
    entry.extend(msgs(4, 4))  # a gap: ignored, a refresh will fetch 3 and 4
    assert entry.latest_seq == 2
    entry.extend(msgs(3, 9))
    assert entry.latest_seq == 9
    assert [m.seq for m in entry.messages][-3:] == [7, 8, 9]
    assert len(entry.messages) <= 6


def test_resp_encode_and_parse() -> None:
    assert encode("ZMSCORE", "k", "a") == b"*3\r\n$7\r\nZMSCORE\r\n$1\r\nk\r\n$1\r\na\r\n"
    assert parse(b"*3\r\n$1\r\n5\r\n$-1\r\n:7\r\n", 0) == ([b"5", None, 7], 20)
    assert parse(b"*2\r\n$1\r\n5\r\n$3\r\nab", 0) is None  # incomplete
    assert parse(b"+OK\r\n", 0) == ("OK", 5)
    parsed = parse(b"-ERR wrong\r\n", 0)
    assert parsed is not None
    value, _ = parsed
    assert isinstance(value, RespError)


async def test_resp_client_against_real_valkey(clean_backends) -> None:
    client = RespClient(clean_backends.redis_url, timeout_s=1.0)
    try:
        assert await client.execute("ZADD", LATEST_KEY, 3, "a") == 1
        got = await asyncio.gather(*(client.execute("ZMSCORE", LATEST_KEY, "a", "b")
                                     for _ in range(20)))
        assert got == [[b"3", None]] * 20
        with pytest.raises(RespError):
            await client.execute("NOSUCHCOMMAND")
    finally:
        client.close()


async def test_version_reads_are_batched_and_start_after_their_polls(clean_backends) -> None:
    guard = RedisGuard(open_redis(clean_backends.redis_url, max_connections=4, timeout_s=1),
                       retry_s=0.1, fast=RespClient(clean_backends.redis_url, timeout_s=1))
    raw = aioredis.from_url(clean_backends.redis_url)
    try:
        await raw.zadd(LATEST_KEY, {"a": 1, "b": 2})
        batcher = VersionBatcher(guard)
        got = await asyncio.gather(*(batcher.get(c) for c in ["a", "b", "x"] * 30))
        assert got == [1.0, 2.0, None] * 30
        assert batcher.batches <= 2  # 90 reads, at most two round trips
        await raw.zadd(LATEST_KEY, {"a": 5})
        assert await batcher.get("a") == 5.0  # a later read never reuses an older answer
    finally:
        await raw.aclose()
        guard.fast.close()  # type: ignore[union-attr]
        await guard.client.aclose()


async def test_guard_turns_a_dead_redis_into_redis_down() -> None:
    from target_service.embedded.ports import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    guard = RedisGuard(open_redis(url, max_connections=2, timeout_s=0.3), retry_s=60,
                       fast=RespClient(url, timeout_s=0.3))
    try:
        with pytest.raises(RedisDown):
            await guard.call(lambda r: r.get("x"))
        assert not guard.up and not guard.usable
        with pytest.raises(RedisDown):  # no new attempt before retry_s
            await guard.fast_call("GET", "x")
        assert not await guard.probe()
    finally:
        await guard.client.aclose()


def test_token_cache_is_bounded() -> None:
    cache = TokenCache(max_size=3)
    for i in range(5):
        cache.put(f"t{i}".encode(), User(id=i, name="n", image=None))
    assert cache.get(b"t0") is None and cache.get(b"t4") == User(id=4, name="n", image=None)


async def test_fresh_cache_keeps_a_bounded_number_of_channels(make_client) -> None:
    from tests.target_service.fixtures import signup

    client = await make_client(cache_max_channels=3)
    headers = await signup(client)
    for i in range(6):
        await client.post(f"/api/chat/c{i}/messages", json={"content": "x"}, headers=headers)
        resp = await client.get(f"/api/chat/c{i}/messages", headers=headers)
        assert [m["seq"] for m in resp.json()["messages"]] == [1]
    assert len(client.app.state.svc.chat.entries) <= 3
    resp = await client.get("/api/chat/c0/messages", headers=headers)  # refills from PostgreSQL
    assert [m["content"] for m in resp.json()["messages"]] == ["x"]
