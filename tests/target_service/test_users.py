"""Sign-up and bearer tokens."""

from __future__ import annotations

import httpx


async def test_signup_returns_a_working_token(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/users", json={"name": "Ann", "image": "https://x/a.png"})
    assert resp.status_code == 201
    user = resp.json()
    assert set(user) == {"id", "name", "image", "token"} and len(user["token"]) >= 30
    me = await client.get("/api/users/me", headers={"Authorization": f"Bearer {user['token']}"})
    assert me.json() == {"id": user["id"], "name": "Ann", "image": "https://x/a.png"}


async def test_tokens_are_distinct_and_found_after_the_cache_is_cold(
    client: httpx.AsyncClient,
) -> None:
    users = [(await client.post("/api/users", json={"name": f"u{i}"})).json() for i in range(5)]
    assert len({u["token"] for u in users}) == 5
    state = client.app.state.svc  # type: ignore[attr-defined]
    state.tokens._items.clear()  # a fresh worker: tokens come from PostgreSQL
    for user in users:
        me = await client.get("/api/users/me",
                              headers={"Authorization": f"Bearer {user['token']}"})
        assert me.json()["id"] == user["id"]
    lower = await client.get("/api/users/me",
                             headers={"Authorization": f"bearer {users[0]['token']}"})
    assert lower.status_code == 200
