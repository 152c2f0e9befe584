"""Notifications: admin-only creation, isolation between users, counter and flag."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from tests.target_service.fixtures import ADMIN, MakeClient, signup_full


async def create(client: httpx.AsyncClient, user_id: int, title: str = "t") -> dict:
    resp = await client.post("/api/notifications", headers=ADMIN, json={
        "userId": user_id, "type": "mention", "title": title, "content": "c", "link": "/x"})
    assert resp.status_code == 201, resp.text
    return resp.json()["notification"]


async def test_create_needs_the_admin_token(client: httpx.AsyncClient) -> None:
    user_id, _ = await signup_full(client)
    body = {"userId": user_id, "type": "t", "title": "t", "content": "c"}
    assert (await client.post("/api/notifications", json=body)).status_code == 401
    wrong = await client.post("/api/notifications", json=body, headers={"X-Admin-Token": "no"})
    assert wrong.status_code == 403
    unknown = await client.post("/api/notifications", headers=ADMIN,
                                json={**body, "userId": 999_999})
    assert unknown.status_code == 404


async def test_create_does_what_create_notification_does(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    user_id, headers = await signup_full(client)
    note = await create(client, user_id)
    assert note["read"] is False and note["userId"] == user_id
    r = aioredis.from_url(redis_url)
    try:
        assert await r.get(f"notifications:unread:{user_id}") == b"1"
        assert await r.get(f"notifications:new:{user_id}") == b"1"
        assert 0 < await r.ttl(f"notifications:new:{user_id}") <= 30
    finally:
        await r.aclose()
    resp = await client.get("/api/notifications/unread", headers=headers)
    assert resp.json() == {"notifications": [note], "count": 1}


async def test_users_only_ever_see_their_own(client: httpx.AsyncClient) -> None:
    ann_id, ann = await signup_full(client, "ann")
    bob_id, bob = await signup_full(client, "bob")
    ann_note = await create(client, ann_id, "for ann")
    await create(client, bob_id, "for bob")
    ann_view = (await client.get("/api/notifications/unread", headers=ann)).json()
    bob_view = (await client.get("/api/notifications/unread", headers=bob)).json()
    assert [n["title"] for n in ann_view["notifications"]] == ["for ann"]
    assert [n["title"] for n in bob_view["notifications"]] == ["for bob"]
    # bob cannot mark ann's as read, nor learn whether it exists
    resp = await client.post("/api/notifications/read", json={"ids": [ann_note["id"]]},
                             headers=bob)
    assert resp.status_code == 404
    resp = await client.post("/api/notifications/read", json={"ids": [10**9]}, headers=bob)
    assert resp.status_code == 404
    assert (await client.get("/api/notifications/unread", headers=ann)).json()["count"] == 1


async def test_mark_read_keeps_the_counter_true(
    make_client: MakeClient, redis_url: str
) -> None:
    client = await make_client()
    user_id, headers = await signup_full(client)
    notes = [await create(client, user_id, f"n{i}") for i in range(3)]
    resp = await client.post("/api/notifications/read", json={"ids": [notes[0]["id"]]},
                             headers=headers)
    assert resp.json() == {"updated": 1}
    again = await client.post("/api/notifications/read", json={"ids": [notes[0]["id"]]},
                              headers=headers)
    assert again.json() == {"updated": 0}  # already read: the counter must not move twice
    r = aioredis.from_url(redis_url)
    try:
        assert await r.get(f"notifications:unread:{user_id}") == b"2"
        resp = await client.post("/api/notifications/read", json={"all": True}, headers=headers)
        assert resp.json() == {"updated": 2}
        assert await r.get(f"notifications:unread:{user_id}") == b"0"
    finally:
        await r.aclose()
    view = (await client.get("/api/notifications/unread", headers=headers)).json()
    assert view == {"notifications": [], "count": 0}


async def test_a_poll_with_nothing_unread_skips_postgres(client: httpx.AsyncClient) -> None:
    user_id, headers = await signup_full(client)
    state = client.app.state.svc  # type: ignore[attr-defined]
    await create(client, user_id)
    await client.post("/api/notifications/read", json={"all": True}, headers=headers)
    queries_before, skips_before = state.counters.db_queries, state.notifications.db_skips
    for _ in range(5):
        resp = await client.get("/api/notifications/unread", headers=headers)
        assert resp.json()["count"] == 0
    assert state.notifications.db_skips - skips_before == 5
    assert state.counters.db_queries == queries_before


async def test_a_lost_counter_is_rebuilt_from_postgres(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    user_id, headers = await signup_full(client)
    await create(client, user_id)
    await create(client, user_id)
    r = aioredis.from_url(redis_url)
    try:
        await r.delete(f"notifications:unread:{user_id}")
        view = (await client.get("/api/notifications/unread", headers=headers)).json()
        assert view["count"] == 2
        assert await r.get(f"notifications:unread:{user_id}") == b"2"
        await r.set(f"notifications:unread:{user_id}", -1)  # a delta landed before a rebuild
        assert (await client.get("/api/notifications/unread", headers=headers)).json()[
            "count"] == 2
    finally:
        await r.aclose()
