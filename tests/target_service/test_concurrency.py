"""The cursor contract under load: 20 writers x 100 messages into one channel while 50
pollers poll with ``after``; every poller ends with exactly seq 1..2000, in order.

Runs real uvicorn with two workers (``run_service``), so writes and polls land on
different processes and the fresh cache's cross-worker version check is exercised.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from target_service.embedded.stack import StackInfo
from target_service.serve import run_service

WRITERS = 20
PER_WRITER = 100
POLLERS = 50
TOTAL = WRITERS * PER_WRITER
DEADLINE_S = 240.0
POLL_PAUSE_S = 0.25  # bounds the client's CPU: httpx costs more per request than the service


async def writer(client: httpx.AsyncClient, token: str, number: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(PER_WRITER):
        resp = await client.post("/api/chat/hot/messages", json={"content": f"w{number}:{i}"},
                                 headers=headers)
        assert resp.status_code == 201, resp.text


async def poller(client: httpx.AsyncClient, token: str, writers_done: asyncio.Event,
                 deadline: float) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[int] = []
    cursor = "0"
    while time.monotonic() < deadline:
        resp = await client.get("/api/chat/hot/messages", params={"after": cursor, "limit": 100},
                                headers=headers)
        assert resp.status_code == 200, resp.text
        messages = resp.json()["messages"]
        seen.extend(m["seq"] for m in messages)
        if messages:
            cursor = messages[-1]["id"]
        elif writers_done.is_set() and len(seen) >= TOTAL:
            break
        await asyncio.sleep(POLL_PAUSE_S)
    return seen


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_every_poller_sees_every_seq_once_in_order(clean_backends: StackInfo) -> None:
    with run_service(redis_url=clean_backends.redis_url, database_url=clean_backends.database_url,
                     workers=2, cache_mode="fresh") as service:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=30) as client:
            tokens = []
            for i in range(WRITERS + POLLERS):
                resp = await client.post("/api/users", json={"name": f"u{i}"})
                tokens.append(resp.json()["token"])
            writers_done = asyncio.Event()
            deadline = time.monotonic() + DEADLINE_S
            polls = [asyncio.create_task(poller(client, tokens[WRITERS + i], writers_done,
                                                deadline)) for i in range(POLLERS)]
            await asyncio.gather(*(writer(client, tokens[i], i) for i in range(WRITERS)))
            writers_done.set()
            results = await asyncio.gather(*polls)
            full = await client.get("/api/chat/hot", headers={
                "Authorization": f"Bearer {tokens[0]}"})
    assert full.json()["messageCount"] == TOTAL
    expected = list(range(1, TOTAL + 1))
    for number, seen in enumerate(results):
        assert seen == expected, (
            f"poller {number}: {len(seen)} seqs, {len(set(seen))} distinct, "
            f"first gap at {next((i for i, s in enumerate(seen, 1) if s != i), None)}"
        )
