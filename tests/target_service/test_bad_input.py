"""Every bad input gets a 4xx with a message; nothing gives a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.target_service.fixtures import ADMIN, signup, signup_full


async def test_missing_or_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        for method, path, body in (
            ("GET", "/api/chat/a/messages", None),
            ("POST", "/api/chat/a/messages", {"content": "x"}),
            ("GET", "/api/chat/a", None),
            ("GET", "/api/notifications/unread", None),
            ("POST", "/api/notifications/read", {"all": True}),
            ("GET", "/api/users/me", None),
        ):
            resp = await client.request(method, path, json=body, headers=headers)
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.json()["detail"]


@pytest.mark.parametrize("channel", ["bad!id", "x" * 65, "sp%20ace", "dot.ted"])
async def test_bad_channel_id_is_422(client: httpx.AsyncClient, channel: str) -> None:
    headers = await signup(client)
    for resp in (
        await client.get(f"/api/chat/{channel}/messages", headers=headers),
        await client.post(f"/api/chat/{channel}/messages", json={"content": "x"},
                          headers=headers),
        await client.get(f"/api/chat/{channel}", headers=headers),
    ):
        assert resp.status_code == 422, resp.text
        assert "channel_id" in resp.json()["detail"]


@pytest.mark.parametrize("query", [
    {"after": "abc"}, {"after": "-1"}, {"after": "1.5"}, {"after": " "}, {"after": "9" * 19},
    {"after": "1\x00"},
    {"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"limit": ""}, {"limit": "-3"},
])
async def test_bad_cursor_or_limit_is_422(client: httpx.AsyncClient, query: dict) -> None:
    headers = await signup(client)
    resp = await client.get("/api/chat/ok/messages", params=query, headers=headers)
    assert resp.status_code == 422, resp.text
    assert next(iter(query)) in resp.json()["detail"]


@pytest.mark.parametrize("body", [
    {"content": ""}, {"content": "   "}, {"content": "x" * 4001}, {"content": 5},
    {"content": None}, {}, {"content": "x", "extra": 1}, [], "text",
])
async def test_bad_message_body_is_422(client: httpx.AsyncClient, body: object) -> None:
    headers = await signup(client)
    resp = await client.post("/api/chat/ok/messages", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert isinstance(resp.json()["detail"], str) and resp.json()["detail"]


async def test_content_of_exactly_4000_characters_is_accepted(client: httpx.AsyncClient) -> None:
    headers = await signup(client)
    resp = await client.post("/api/chat/ok/messages", json={"content": "é" * 4000},
                             headers=headers)
    assert resp.status_code == 201


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    headers = await signup(client)
    for path in ("/api/chat/ok/messages", "/api/users", "/api/notifications/read"):
        resp = await client.post(path, content=b'{"content": ',
                                 headers={**headers, "Content-Type": "application/json"})
        assert resp.status_code == 422, (path, resp.text)
        assert "json" in resp.json()["detail"].lower()


async def test_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    headers = await signup(client)
    big = b'{"content": "' + b"x" * (64 * 1024) + b'"}'
    resp = await client.post("/api/chat/ok/messages", content=big,
                             headers={**headers, "Content-Type": "application/json"})
    assert resp.status_code == 413 and "Too Large" in resp.json()["detail"]

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(70):
            yield b"x" * 1024

    resp = await client.post("/api/users", content=chunks(),
                             headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and "Too Large" in resp.json()["detail"]
    ok = await client.post("/api/chat/ok/messages", json={"content": "x" * 4000},
                           headers=headers)
    assert ok.status_code == 201  # the limit is on bytes, far above the largest valid body


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": "  "}, {"name": "x" * 101}, {"name": 3}, {}, {"name": "a", "x": 1},
    {"name": "a", "image": 5},
])
async def test_bad_signup_is_422(client: httpx.AsyncClient, body: dict) -> None:
    resp = await client.post("/api/users", json=body)
    assert resp.status_code == 422, resp.text


@pytest.mark.parametrize("body", [
    {"userId": "x", "type": "t", "title": "t", "content": "c"},
    {"userId": 1, "type": "", "title": "t", "content": "c"},
    {"userId": 1, "type": "t", "title": "t"},
    {"userId": 0, "type": "t", "title": "t", "content": "c"},
    {"userId": 2**63, "type": "t", "title": "t", "content": "c"},
    {"userId": "1", "type": "t", "title": "t", "content": "c"},
])
async def test_bad_notification_is_422(client: httpx.AsyncClient, body: dict) -> None:
    await signup(client)
    resp = await client.post("/api/notifications", json=body, headers=ADMIN)
    assert resp.status_code == 422, resp.text


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "1"}, {"ids": [1], "all": True},
                                  {"all": False}, {"ids": [-1]}, {"ids": [2**63]}, {"ids": [2**53]},
                                  {"ids": ["1"]}, {"all": 1}])
async def test_bad_mark_read_is_422(client: httpx.AsyncClient, body: dict) -> None:
    _, headers = await signup_full(client)
    resp = await client.post("/api/notifications/read", json=body, headers=headers)
    if body == {"ids": []}:
        assert resp.status_code == 200 and resp.json()["updated"] == 0
    else:
        assert resp.status_code == 422, resp.text


@pytest.mark.parametrize("path", ["/api/metrics/bogus/latency",
                                  "/api/metrics/message/latency?windowS=0",
                                  "/api/metrics/message/latency?windowS=x"])
async def test_bad_metrics_query_is_422(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 422, resp.text


async def test_empty_after_means_no_cursor(client: httpx.AsyncClient) -> None:
    """The design's ChatRoom sends its first poll as ``?after=`` (``lastMessageId || ''``)."""
    headers = await signup(client)
    for i in range(3):
        await client.post("/api/chat/room/messages", json={"content": f"m{i}"}, headers=headers)
    empty = await client.get("/api/chat/room/messages?after=", headers=headers)
    absent = await client.get("/api/chat/room/messages", headers=headers)
    assert empty.status_code == 200, empty.text
    assert [m["seq"] for m in empty.json()["messages"]] == [1, 2, 3]
    assert empty.json()["messages"] == absent.json()["messages"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/users", {"name": "a\u0000b"}, "name"),
    ("/api/users", {"name": "ann", "image": "\u0000"}, "image"),
    ("/api/chat/room/messages", {"content": "hello\u0000"}, "content"),
    ("/api/notifications", {"userId": 1, "type": "t", "title": "\u0000", "content": "c"},
     "title"),
    ("/api/notifications", {"userId": 1, "type": "t", "title": "t", "content": "c",
                            "link": "x\u0000"}, "link"),
])
async def test_nul_in_text_is_422_not_500(client: httpx.AsyncClient, path: str, body: dict,
                                          field: str) -> None:
    """PostgreSQL cannot store NUL in text: refused at the door with a readable line."""
    headers = {**await signup(client), **ADMIN}
    resp = await client.post(path, json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["detail"] and "NUL" in resp.json()["detail"]
