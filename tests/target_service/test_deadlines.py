"""Deadlines under a really paused or restarted backend (a stack of the tests' own).

With the default settings (deadline 5 s): while Valkey is SIGSTOPped polls and posts
keep working from PostgreSQL; while every PostgreSQL process is SIGSTOPped a request
that needs it answers 503 with ``Retry-After`` before the deadline, and one that does
not (a cached token, a fresh poll) still answers; a 201 means committed; after a
PostgreSQL restart the pool serves again without a new app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import asyncpg
import httpx
import pytest

from target_service.embedded.stack import Stack
from target_service.settings import Settings
from tests.target_service.fixtures import MakeClient, signup

DEADLINE_S = Settings.model_fields["request_deadline_s"].default
SLACK_S = 1.0  # the bound: the deadline + 1 s


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = await call
    return resp, time.monotonic() - started


async def count_messages(database_url: str) -> int:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM messages"))
    finally:
        await conn.close()


async def post(client: httpx.AsyncClient, headers: dict[str, str], text: str,
               ) -> httpx.Response:
    return await client.post("/api/chat/room/messages", json={"content": text}, headers=headers)


@pytest.mark.parametrize("cache", ["fresh", "seed"])
async def test_chat_keeps_its_deadline_while_valkey_is_paused(
    make_client: MakeClient, fault_stack: Stack, cache: str,
) -> None:
    assert fault_stack.info is not None
    client = await make_client(fault_stack.info, cache_mode=cache)
    headers = await signup(client)
    assert (await post(client, headers, "before")).status_code == 201
    fault_stack.pause("valkey")
    try:
        longest_s = 0.0
        for i in range(3):
            sent, took_s = await timed(post(client, headers, f"during {i}"))
            assert sent.status_code == 201, sent.text
            longest_s = max(longest_s, took_s)
            polled, took_s = await timed(client.get("/api/chat/room/messages?after=0",
                                                    headers=headers))
            longest_s = max(longest_s, took_s)
            assert polled.status_code == 200, polled.text
        if cache == "fresh":  # the seed cache may serve an answer up to seed_ttl_s old
            assert [m["seq"] for m in polled.json()["messages"]] == [1, 2, 3, 4]
        assert longest_s <= DEADLINE_S + SLACK_S, longest_s
    finally:
        fault_stack.resume("valkey")
    assert await count_messages(fault_stack.info.database_url) == 4


async def test_paused_postgres_is_503_or_504_with_retry_after_within_the_deadline(
    make_client: MakeClient, fault_stack: Stack,
) -> None:
    assert fault_stack.info is not None
    client = await make_client(fault_stack.info)
    headers = await signup(client)
    assert (await post(client, headers, "before")).status_code == 201
    assert (await client.get("/api/chat/room/messages", headers=headers)).status_code == 200
    fault_stack.pause("postgres")  # the postmaster and every backend process
    try:
        answers = await asyncio.gather(
            timed(client.post("/api/chat/room/messages", json={"content": "during"},
                              headers={**headers, "Idempotency-Key": "during"})),
            timed(client.post("/api/users", json={"name": "late"})),
            timed(client.get("/api/users/me", headers=headers)),  # token cached: no database
            timed(client.get("/api/chat/room/messages", headers=headers)),  # fresh cache
        )
    finally:
        fault_stack.resume("postgres")
    for resp, took_s in answers:
        assert took_s <= DEADLINE_S + SLACK_S, (resp.request.url, took_s)
    (sent, _), (signed, _), (me, _), (polled, _) = answers
    # the sign-up's INSERT went out unconfirmed: outcome unknown, 504
    assert signed.status_code == 504, signed.text
    assert "Idempotency-Key" in signed.text
    # the keyed post stopped at its key lookup (a read): nothing was written, 503
    assert sent.status_code == 503, sent.text
    for resp in (sent, signed):
        assert int(resp.headers["Retry-After"]) >= 1 and resp.json()["detail"]
    assert me.status_code == 200 and polled.status_code == 200
    assert [m["seq"] for m in polled.json()["messages"]] == [1]
    # the pool serves again; the retry with the key makes "during" exist exactly once
    retry = await client.post("/api/chat/room/messages", json={"content": "during"},
                              headers={**headers, "Idempotency-Key": "during"})
    assert retry.status_code == 201 and retry.json()["message"]["seq"] == 2
    assert await count_messages(fault_stack.info.database_url) == 2


async def test_no_connection_in_time_is_503_and_nothing_is_written(
    make_client: MakeClient, fault_stack: Stack,
) -> None:
    """Every connection of the pool held by a paused server: the acquire times out, so
    the write never went out and the answer is a definite 503."""
    assert fault_stack.info is not None
    client = await make_client(fault_stack.info, pg_min_size=1, pg_max_size=1)
    headers = await signup(client)
    fault_stack.pause("postgres")
    try:
        held = asyncio.ensure_future(post(client, headers, "holds the only connection"))
        await asyncio.sleep(0.3)
        refused, took_s = await timed(post(client, headers, "never sent"))
        await held
    finally:
        fault_stack.resume("postgres")
    assert refused.status_code == 503, refused.text
    assert took_s <= DEADLINE_S + SLACK_S
    conn = await asyncpg.connect(fault_stack.info.database_url, timeout=10)
    try:
        contents = await conn.fetch("SELECT content FROM messages")
    finally:
        await conn.close()
    assert "never sent" not in {row["content"] for row in contents}


@pytest.mark.parametrize("kill", [False, True], ids=["restart", "kill"])
async def test_the_pool_recovers_after_a_postgres_restart(
    make_client: MakeClient, fault_stack: Stack, kill: bool,
) -> None:
    assert fault_stack.info is not None
    client = await make_client(fault_stack.info, pg_min_size=4)
    headers = await signup(client)
    assert (await post(client, headers, "before")).status_code == 201
    await asyncio.to_thread(fault_stack.restart, "postgres", kill=kill)  # it waits in a loop
    statuses: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # a few 503s at most, then served again
        resp, took_s = await timed(client.post("/api/users", json={"name": "again"}))
        assert took_s <= DEADLINE_S + SLACK_S
        statuses.append(resp.status_code)
        if resp.status_code == 201:
            break
        assert resp.status_code == 503, resp.text
        await asyncio.sleep(0.2)
    assert statuses[-1] == 201, statuses
    assert statuses.count(503) <= 1, statuses  # a lost connection expires the whole pool
    sent = await post(client, headers, "after")
    assert sent.status_code == 201 and sent.json()["message"]["seq"] == 2
