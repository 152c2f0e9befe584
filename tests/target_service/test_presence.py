"""Presence: pollers count as active for the window, then drop out; rate and interval."""

from __future__ import annotations

import asyncio

import httpx

from tests.target_service.fixtures import MakeClient, signup

FLUSH_WAIT_S = 0.25  # > presence_flush_ms (50 ms in the test settings)


async def active_users(client: httpx.AsyncClient, headers: dict[str, str], channel: str) -> int:
    resp = await client.get(f"/api/chat/{channel}/messages", params={"limit": 1},
                            headers=headers)
    assert resp.status_code == 200
    return int(resp.json()["activeUsers"])


async def test_active_users_count_recent_pollers_and_expire(make_client: MakeClient) -> None:
    client = await make_client(presence_window_s=1.0)
    users = [await signup(client, f"u{i}") for i in range(3)]
    for headers in users:
        await active_users(client, headers, "p")
    await asyncio.sleep(FLUSH_WAIT_S)
    assert await active_users(client, users[0], "p") == 3
    # only u0 keeps polling; the others drop out once the 1 s window has passed
    for _ in range(6):
        await asyncio.sleep(0.25)
        await active_users(client, users[0], "p")
    await asyncio.sleep(FLUSH_WAIT_S)
    assert await active_users(client, users[0], "p") == 1


async def test_presence_is_per_channel(make_client: MakeClient) -> None:
    client = await make_client()
    ann, bob = await signup(client, "ann"), await signup(client, "bob")
    await active_users(client, ann, "one")
    await active_users(client, bob, "two")
    await asyncio.sleep(FLUSH_WAIT_S)
    assert await active_users(client, ann, "one") == 1
    assert await active_users(client, bob, "two") == 1


async def test_policy_interval_follows_active_users(make_client: MakeClient) -> None:
    """seed-dynamic: > 5 active users -> 2000 ms, otherwise 5000 ms."""
    client = await make_client(policy="seed-dynamic")
    users = [await signup(client, f"u{i}") for i in range(6)]
    first = await client.get("/api/chat/d/messages", headers=users[0])
    assert first.json()["pollIntervalMs"] == 5000
    for headers in users:
        await client.get("/api/chat/d/messages", headers=headers)
    await asyncio.sleep(FLUSH_WAIT_S)
    resp = await client.get("/api/chat/d/messages", headers=users[0])
    assert resp.json()["activeUsers"] == 6
    assert resp.json()["pollIntervalMs"] == 2000
    assert resp.headers["X-Poll-Interval-Ms"] == "2000"


async def test_message_rate_reaches_the_policy(make_client: MakeClient, tmp_path) -> None:
    """A parametric policy on message rate: > 0.1 msg/s over 60 s -> 500 ms."""
    policy = tmp_path / "rate.json"
    policy.write_text('{"name": "rate", "default_ms": 4000, "rate_thresholds": [[0.1, 500]]}')
    client = await make_client(policy=str(policy))
    headers = await signup(client)
    assert (await client.get("/api/chat/r/messages", headers=headers)).json()[
        "pollIntervalMs"] == 4000
    for i in range(10):  # 10 messages in the last 60 s = 0.167 msg/s
        await client.post("/api/chat/r/messages", json={"content": f"m{i}"}, headers=headers)
    await asyncio.sleep(FLUSH_WAIT_S)
    resp = await client.get("/api/chat/r/messages", params={"after": "10"}, headers=headers)
    assert resp.json()["pollIntervalMs"] == 500
