"""Security properties, checked against the app itself.

- every route needs a bearer token except the public ones below; the routes are
  enumerated from the app, so a route added later is covered (or must be listed);
- nobody reads or marks another user's notifications;
- tokens carry >= 128 random bits; only their SHA-256 is stored and looked up;
- the admin route refuses a missing or wrong ``X-Admin-Token``;
- unknown body fields are refused (422) on every route with a body.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import WebSocketRoute

from tests.target_service.fixtures import ADMIN, signup_full

PUBLIC = {  # (method, path): answers without a token, by design
    ("GET", "/api/ping"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("GET", "/api/metrics/{kind}/latency"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"), ("POST", "/api/users"),
    ("GET", "/"), ("GET", "/demo"),  # the demo page
}
PUBLIC_PREFIXES = ("/static", "/demo/")  # the demo page's files
ADMIN_ONLY = {("POST", "/api/notifications")}
PATH_VALUES = {"channel_id": "room", "kind": "message"}
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/users"): {"name": "ann"},
    ("POST", "/api/chat/{channel_id}/messages"): {"content": "hello"},
    ("POST", "/api/notifications"): {"userId": 1, "type": "t", "title": "t", "content": "c"},
    ("POST", "/api/notifications/read"): {"all": True},
}


def http_operations(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD" and route.path:
                found.append((method, route.path))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def body_for(method: str, path: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    operation = doc["paths"].get(path, {}).get(method.lower(), {})
    if "requestBody" not in operation:
        return None
    assert (method, path) in VALID_BODIES, f"add a valid body for {method} {path}"
    return VALID_BODIES[(method, path)]


async def test_every_route_but_the_public_ones_needs_a_token(client: httpx.AsyncClient) -> None:
    app = client.app  # type: ignore[attr-defined]
    doc = (await client.get("/openapi.json")).json()
    operations = http_operations(app)
    assert ("GET", "/api/chat/{channel_id}/messages") in operations  # the walk sees routers
    checked = 0
    for method, path in operations:
        if (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES):
            continue
        body = body_for(method, path, doc)
        for headers in ({}, {"Authorization": "Bearer " + "A" * 32},
                        {"Authorization": "Basic YW5uOnB3"}):
            resp = await client.request(method, concrete(path), json=body, headers=headers)
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.json()["detail"]
        checked += 1
    assert checked >= 6, operations


async def websocket_probe(app: Any, path: str) -> list[dict[str, Any]]:
    """Open a WebSocket on the ASGI app without credentials; the messages it sent back."""
    sent: list[dict[str, Any]] = []
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "scheme": "ws", "server": None,
             "client": ("127.0.0.1", 1), "root_path": "", "subprotocols": [],
             "app": app, "state": {}}
    await app(scope, receive, send)
    return sent


async def test_websocket_routes_refuse_a_connection_without_token(
    client: httpx.AsyncClient,
) -> None:
    app = client.app  # type: ignore[attr-defined]
    paths = [route.path for route in iter_route_contexts(app.routes)
             if isinstance(route.original_route, WebSocketRoute)]
    if not paths:
        pytest.skip("the app has no WebSocket route yet")
    for path in paths:
        assert path is not None  # a WebSocketRoute always has one
        sent = await websocket_probe(app, concrete(path))
        types = [m["type"] for m in sent]
        refused = "websocket.http.response.start" in types or (
            "websocket.close" in types and "websocket.send" not in types)
        assert refused, (path, sent)


async def create_note(client: httpx.AsyncClient, user_id: int, title: str) -> int:
    resp = await client.post("/api/notifications", headers=ADMIN, json={
        "userId": user_id, "type": "t", "title": title, "content": "c"})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["notification"]["id"])


async def test_nobody_reads_or_marks_another_users_notifications(
    client: httpx.AsyncClient,
) -> None:
    ann_id, ann = await signup_full(client, "ann")
    _, bob = await signup_full(client, "bob")
    note = await create_note(client, ann_id, "for ann only")
    bob_view = (await client.get("/api/notifications/unread", headers=bob)).json()
    assert bob_view == {"notifications": [], "count": 0}
    refused = await client.post("/api/notifications/read", json={"ids": [note]}, headers=bob)
    assert refused.status_code == 404
    everything = await client.post("/api/notifications/read", json={"all": True}, headers=bob)
    assert everything.json() == {"updated": 0}
    ann_view = (await client.get("/api/notifications/unread", headers=ann)).json()
    assert [n["id"] for n in ann_view["notifications"]] == [note]


async def test_tokens_are_random_128_bits_or_more_and_stored_only_hashed(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    tokens = [(await client.post("/api/users", json={"name": f"u{i}"})).json()["token"]
              for i in range(40)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
    bits = "".join(f"{byte:08b}" for t in tokens
                   for byte in base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
    assert 0.45 < bits.count("1") / len(bits) < 0.55  # no constant or patterned bytes
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM users")
    finally:
        await conn.close()
    stored = {str(value) for row in rows for value in row.values()}
    assert not stored & set(tokens)  # no token in any column
    digests = {bytes(row["token_sha256"]) for row in rows}
    assert {hashlib.sha256(t.encode()).digest() for t in tokens} <= digests
    state = client.app.state.svc  # type: ignore[attr-defined]
    assert not set(state.tokens._items) & {t.encode() for t in tokens}
    assert all(len(key) == 32 for key in state.tokens._items)  # cache keyed by digest


async def test_a_token_off_by_one_character_is_refused(client: httpx.AsyncClient) -> None:
    _, headers = await signup_full(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (near, token[:-1], token + "A", token.upper(), ""):
        resp = await client.get("/api/users/me", headers={"Authorization": f"Bearer {wrong}"})
        assert resp.status_code == 401, wrong


async def test_a_malformed_token_costs_no_database_lookup(client: httpx.AsyncClient) -> None:
    state = client.app.state.svc  # type: ignore[attr-defined]
    before = state.counters.db_queries
    for wrong in ("short", "x" * 33, "A" * 31 + "!", "\u00e9" * 32):
        resp = await client.get("/api/users/me",
                                headers={b"Authorization": f"Bearer {wrong}".encode()})
        assert resp.status_code == 401
    assert state.counters.db_queries == before


async def test_the_admin_route_refuses_a_missing_or_wrong_token(
    client: httpx.AsyncClient,
) -> None:
    user_id, user = await signup_full(client)
    body = {"userId": user_id, "type": "t", "title": "t", "content": "c"}
    admin = ADMIN["X-Admin-Token"]
    cases = [({}, 401), (user, 401), ({"X-Admin-Token": ""}, 403),
             ({"X-Admin-Token": admin[:-1] + "x"}, 403), ({"X-Admin-Token": admin + "x"}, 403),
             ({"X-Admin-Token": user["Authorization"]}, 403)]
    for headers, status in cases:
        resp = await client.post("/api/notifications", json=body, headers=headers)
        assert resp.status_code == status, (headers, resp.text)
    unread = await client.get("/api/notifications/unread", headers=user)
    assert unread.json()["count"] == 0  # nothing was created by a refused call


async def test_unknown_body_fields_are_refused_on_every_route(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    _, user = await signup_full(client)
    headers = {**user, **ADMIN}
    with_body = [(m, p) for m, p in http_operations(client.app)  # type: ignore[attr-defined]
                 if body_for(m, p, doc) is not None]
    assert len(with_body) >= 4
    for method, path in with_body:
        body = {**VALID_BODIES[(method, path)], "isAdmin": True}
        resp = await client.request(method, concrete(path), json=body, headers=headers)
        assert resp.status_code == 422, (method, path, resp.text)
        assert "isAdmin" in resp.json()["detail"]
