"""Chat routes in both cache modes: post, poll with a cursor, metadata, seed staleness."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.target_service.fixtures import MakeClient, signup

MODES = ["fresh", "seed"]


async def post(client: httpx.AsyncClient, headers: dict[str, str], channel: str, text: str) -> dict:
    resp = await client.post(f"/api/chat/{channel}/messages", json={"content": text},
                             headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["message"]


@pytest.mark.parametrize("mode", MODES)
async def test_post_then_poll_returns_the_message_with_cursor_fields(
    make_client: MakeClient, mode: str
) -> None:
    client = await make_client(cache_mode=mode)
    headers = await signup(client, "ann")
    sent = await post(client, headers, "room-1", "hello")
    assert sent["seq"] == 1 and sent["channelId"] == "room-1" and sent["content"] == "hello"
    assert sent["author"]["name"] == "ann" and isinstance(sent["createdAt"], int)

    resp = await client.get("/api/chat/room-1/messages", headers=headers)
    assert resp.status_code == 200
    body = resp.json()
    assert [m["content"] for m in body["messages"]] == ["hello"]
    assert body["messages"][0] == sent
    assert body["pollIntervalMs"] == 2000
    assert resp.headers["X-Poll-Interval-Ms"] == "2000"
    assert set(body) == {"messages", "activeUsers", "pollIntervalMs"}


@pytest.mark.parametrize("mode", MODES)
async def test_cursor_returns_only_newer_messages_in_seq_order(
    make_client: MakeClient, mode: str
) -> None:
    client = await make_client(cache_mode=mode)
    headers = await signup(client)
    sent = [await post(client, headers, "c", f"m{i}") for i in range(5)]
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
    resp = await client.get("/api/chat/c/messages", params={"after": sent[1]["id"]},
                            headers=headers)
    assert [m["seq"] for m in resp.json()["messages"]] == [3, 4, 5]
    resp = await client.get("/api/chat/c/messages", params={"after": "1", "limit": 2},
                            headers=headers)
    assert [m["seq"] for m in resp.json()["messages"]] == [2, 3]
    resp = await client.get("/api/chat/c/messages", params={"after": "5"}, headers=headers)
    assert resp.json()["messages"] == []


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_channel_polls_empty_and_meta_is_404(
    make_client: MakeClient, mode: str
) -> None:
    client = await make_client(cache_mode=mode)
    headers = await signup(client)
    resp = await client.get("/api/chat/nobody-here/messages", headers=headers)
    assert resp.status_code == 200 and resp.json()["messages"] == []
    resp = await client.get("/api/chat/nobody-here", headers=headers)
    assert resp.status_code == 404 and "no messages" in resp.json()["detail"]


async def test_without_cursor_the_latest_messages_come_oldest_first(
    make_client: MakeClient,
) -> None:
    client = await make_client(recent_size=10)
    headers = await signup(client)
    for i in range(30):
        await post(client, headers, "long", f"m{i}")
    resp = await client.get("/api/chat/long/messages", params={"limit": 5}, headers=headers)
    assert [m["seq"] for m in resp.json()["messages"]] == [26, 27, 28, 29, 30]
    # a cursor older than what the in-process cache keeps is served from PostgreSQL
    resp = await client.get("/api/chat/long/messages", params={"after": "2", "limit": 3},
                            headers=headers)
    assert [m["seq"] for m in resp.json()["messages"]] == [3, 4, 5]
    resp = await client.get("/api/chat/long/messages", params={"limit": 100}, headers=headers)
    assert [m["seq"] for m in resp.json()["messages"]] == list(range(1, 31))


async def test_fresh_mode_never_serves_a_stale_answer(make_client: MakeClient) -> None:
    client = await make_client(cache_mode="fresh")
    headers = await signup(client)
    for i in range(20):
        first = await client.get("/api/chat/f/messages", params={"after": str(i)},
                                 headers=headers)
        assert first.json()["messages"] == []
        await post(client, headers, "f", f"m{i}")
        again = await client.get("/api/chat/f/messages", params={"after": str(i)},
                                 headers=headers)
        assert [m["seq"] for m in again.json()["messages"]] == [i + 1]


async def test_fresh_mode_sees_writes_of_another_worker(make_client: MakeClient) -> None:
    """Two apps (as two uvicorn workers) on the same backends: a write on one is seen on
    the other at once, because the other checks the channel version in Redis."""
    reader = await make_client(cache_mode="fresh")
    writer = await make_client(cache_mode="fresh")
    headers = await signup(writer)
    for i in range(10):
        resp = await reader.get("/api/chat/x/messages", params={"after": str(i)},
                                headers=headers)
        assert resp.json()["messages"] == []  # the reader caches "nothing after i"
        await post(writer, headers, "x", f"m{i}")
        resp = await reader.get("/api/chat/x/messages", params={"after": str(i)},
                                headers=headers)
        assert [m["seq"] for m in resp.json()["messages"]] == [i + 1]


async def test_seed_mode_reproduces_the_source_5s_staleness(make_client: MakeClient) -> None:
    client = await make_client(cache_mode="seed", seed_ttl_s=1)
    headers = await signup(client)
    await post(client, headers, "s", "one")
    first = await client.get("/api/chat/s/messages", params={"after": "0"}, headers=headers)
    await post(client, headers, "s", "two")
    cached = await client.get("/api/chat/s/messages", params={"after": "0"}, headers=headers)
    assert cached.json()["messages"] == first.json()["messages"]  # "two" is hidden
    await asyncio.sleep(1.2)
    later = await client.get("/api/chat/s/messages", params={"after": "0"}, headers=headers)
    assert [m["content"] for m in later.json()["messages"]] == ["one", "two"]


async def test_seed_mode_uses_the_source_cache_key(
    make_client: MakeClient, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    client = await make_client(cache_mode="seed")
    headers = await signup(client)
    await post(client, headers, "k", "one")
    await client.get("/api/chat/k/messages", headers=headers)
    await client.get("/api/chat/k/messages", params={"after": "0"}, headers=headers)
    r = aioredis.from_url(redis_url)
    try:
        assert await r.exists("chat:k:all") and await r.exists("chat:k:0")
        assert 0 < await r.ttl("chat:k:0") <= 5
    finally:
        await r.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_channel_meta_counts_messages(make_client: MakeClient, mode: str) -> None:
    client = await make_client(cache_mode=mode)
    headers = await signup(client)
    last = None
    for i in range(3):
        last = await post(client, headers, "meta", f"m{i}")
    resp = await client.get("/api/chat/meta", headers=headers)
    assert resp.status_code == 200
    meta = resp.json()
    assert meta["id"] == "meta" and meta["messageCount"] == 3
    assert last is not None
    assert meta["lastMessageAt"] == last["createdAt"]
    assert "activeUsers" in meta
    if mode == "fresh":  # fresh: the 5-minute meta level is checked against the version
        await post(client, headers, "meta", "m3")
        assert (await client.get("/api/chat/meta", headers=headers)).json()["messageCount"] == 4


async def test_created_at_grows_with_seq(make_client: MakeClient) -> None:
    client = await make_client()
    headers = await signup(client)
    sent = [await post(client, headers, "t", f"m{i}") for i in range(10)]
    stamps = [m["createdAt"] for m in sent]
    assert stamps == sorted(stamps)


async def test_fresh_polls_are_proven_by_pushes_without_redis_reads(
    make_client: MakeClient,
) -> None:
    """With the push subscription up, cached polls skip the Redis version read, and a
    write on another worker is still seen by the very next poll."""
    reader = await make_client(cache_mode="fresh")
    writer = await make_client(cache_mode="fresh")
    chat = reader.app.state.svc.chat  # type: ignore[attr-defined]
    for _ in range(100):
        if chat.pushes.healthy():
            break
        await asyncio.sleep(0.02)
    headers = await signup(writer)
    await post(writer, headers, "pp", "m0")
    await reader.get("/api/chat/pp/messages", headers=headers)  # fills the cache
    batches, push_hits = chat.versions.batches, chat.push_hits
    for i in range(1, 21):
        resp = await reader.get("/api/chat/pp/messages", params={"after": str(i)},
                                headers=headers)
        assert resp.json()["messages"] == []
        await post(writer, headers, "pp", f"m{i}")
        resp = await reader.get("/api/chat/pp/messages", params={"after": str(i)},
                                headers=headers)
        assert [m["seq"] for m in resp.json()["messages"]] == [i + 1]
    assert chat.push_hits - push_hits >= 20
    assert chat.versions.batches - batches <= 20  # only refreshes after a write read Redis


async def test_a_lost_push_subscription_falls_back_and_comes_back(
    make_client: MakeClient, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    reader = await make_client(cache_mode="fresh", push_heartbeat_s=0.05)
    writer = await make_client(cache_mode="fresh", push_heartbeat_s=0.05)
    pushes = reader.app.state.svc.chat.pushes  # type: ignore[attr-defined]
    headers = await signup(writer)
    await post(writer, headers, "lost", "m1")
    await reader.get("/api/chat/lost/messages", headers=headers)
    r = aioredis.from_url(redis_url)
    try:
        subscriptions = pushes.subscriptions
        await r.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await post(writer, headers, "lost", "m2")  # announced to nobody
        resp = await reader.get("/api/chat/lost/messages", params={"after": "1"},
                                headers=headers)
        assert [m["seq"] for m in resp.json()["messages"]] == [2]
        for _ in range(100):
            if pushes.subscriptions > subscriptions and pushes.healthy():
                break
            await asyncio.sleep(0.02)
        assert pushes.healthy()
        await post(writer, headers, "lost", "m3")
        resp = await reader.get("/api/chat/lost/messages", params={"after": "2"},
                                headers=headers)
        assert [m["seq"] for m in resp.json()["messages"]] == [3]
    finally:
        await r.aclose()
