"""``Idempotency-Key`` on ``POST /api/chat/{c}/messages``: a retry returns the message the
first attempt committed (same id and seq), never a second one; across workers (two apps
on one PostgreSQL), under a race, and after Redis lost everything."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from target_service.embedded.stack import Stack
from tests.target_service.fixtures import MakeClient, signup


async def send(client: httpx.AsyncClient, headers: dict[str, str], content: str,
               key: str | None, channel: str = "room") -> httpx.Response:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return await client.post(f"/api/chat/{channel}/messages", json={"content": content},
                             headers={**headers, **extra})


async def stored(database_url: str, channel: str = "room") -> list[tuple[int, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT seq, content FROM messages WHERE channel_id = $1"
                                " ORDER BY seq", channel)
    finally:
        await conn.close()
    return [(row["seq"], row["content"]) for row in rows]


async def test_a_retry_returns_the_same_message_and_commits_nothing(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    headers = await signup(client)
    key = str(uuid.uuid4())
    first = await send(client, headers, "hello", key)
    again = await send(client, headers, "hello (resent)", key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()  # the original content, id, seq, createdAt
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    after = await send(client, headers, "next", None)
    assert after.json()["message"]["seq"] == first.json()["message"]["seq"] + 1
    assert await stored(database_url) == [(1, "hello"), (2, "next")]


async def test_keys_belong_to_one_author_and_one_channel(client: httpx.AsyncClient) -> None:
    ann, bob = await signup(client, "ann"), await signup(client, "bob")
    seqs = [
        (await send(client, ann, "a", "k1")).json()["message"]["seq"],
        (await send(client, bob, "b", "k1")).json()["message"]["seq"],
        (await send(client, ann, "c", "k1", channel="other")).json()["message"]["seq"],
        (await send(client, ann, "a again", "k1")).json()["message"]["seq"],
    ]
    assert seqs == [1, 2, 1, 1]


async def test_racing_retries_commit_once_and_leave_no_gap(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    headers = await signup(client)
    answers = await asyncio.gather(*(send(client, headers, f"try {i}", "race")
                                     for i in range(12)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["message"]["seq"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 11
    # the losers' seq increments rolled back with their failed insert: no gap follows
    assert (await send(client, headers, "next", None)).json()["message"]["seq"] == 2
    assert [seq for seq, _ in await stored(database_url)] == [1, 2]


async def test_a_retry_on_another_worker_finds_the_message(make_client: MakeClient) -> None:
    one, two = await make_client(), await make_client()  # two apps = two workers
    headers = await signup(one)
    first = await send(one, headers, "hello", "worker-key")
    again = await send(two, headers, "hello", "worker-key")
    assert again.status_code == 201 and again.json() == first.json()
    polled = await two.get("/api/chat/room/messages", headers=headers)
    assert [m["seq"] for m in polled.json()["messages"]] == [1]


async def test_a_retry_after_redis_lost_everything_finds_the_message(
    make_client: MakeClient, fault_stack: Stack,
) -> None:
    assert fault_stack.info is not None
    client = await make_client(fault_stack.info)
    headers = await signup(client)
    first = await send(client, headers, "hello", "restart-key")
    info = fault_stack.restart("valkey", kill=True)  # empty, as after a crash
    again = await send(client, headers, "hello", "restart-key")
    assert again.status_code == 201 and again.json() == first.json()
    assert await stored(info.database_url) == [(1, "hello")]


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space", "tab\tkey"])
async def test_a_malformed_key_is_422(client: httpx.AsyncClient, key: str) -> None:
    headers = await signup(client)
    # all bytes (httpx's header types don't mix str and bytes): str encoded as httpx does
    raw = {k.encode("ascii"): v.encode("ascii") for k, v in headers.items()}
    resp = await client.post("/api/chat/room/messages", json={"content": "x"},
                             headers={**raw, b"Idempotency-Key": key.encode()})
    assert resp.status_code == 422, resp.text
    assert "idempotency-key" in resp.json()["detail"].lower()


async def test_the_header_is_documented(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"][
        "/api/chat/{channel_id}/messages"]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and "retry" in header["description"]
