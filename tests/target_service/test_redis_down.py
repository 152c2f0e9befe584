"""Redis is a cache, not a dependency: chat keeps working from PostgreSQL while it is
down, and the service recovers by itself when it returns (here: a Valkey of the test's
own, killed and restarted on the same port, empty, as after a crash)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from target_service.embedded.binaries import valkey_binary
from target_service.embedded.ports import free_port
from target_service.embedded.stack import StackInfo
from tests.target_service.fixtures import ADMIN, MakeClient, signup_full


class OwnValkey:
    def __init__(self, run_dir: Path) -> None:
        self.port = free_port()
        self.run_dir = run_dir
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.popen = subprocess.Popen(
            [str(valkey_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.run_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    async def wait_up(self) -> None:
        r = aioredis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    await r.ping()
                    return
                except Exception:
                    await asyncio.sleep(0.05)
            raise AssertionError("own valkey did not start")
        finally:
            await r.aclose()


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[OwnValkey]:
    server = OwnValkey(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def wait_redis_state(client: httpx.AsyncClient, want: str) -> dict:
    for _ in range(100):
        health = (await client.get("/healthz")).json()
        if health["redis"] == want:
            return health
        await asyncio.sleep(0.05)
    raise AssertionError(f"redis never reported {want}")


async def seqs(client: httpx.AsyncClient, headers: dict, after: int | None = None) -> list[int]:
    params = {} if after is None else {"after": str(after)}
    resp = await client.get("/api/chat/room/messages", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return [m["seq"] for m in resp.json()["messages"]]


async def post(client: httpx.AsyncClient, headers: dict, text: str) -> int:
    resp = await client.post("/api/chat/room/messages", json={"content": text}, headers=headers)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["message"]["seq"])


@pytest.mark.parametrize("mode", ["fresh", "seed"])
async def test_chat_survives_redis_down_and_recovers(
    make_client: MakeClient, own_valkey: OwnValkey, clean_backends: StackInfo, mode: str
) -> None:
    await own_valkey.wait_up()
    info = StackInfo(redis_url=own_valkey.url, database_url=clean_backends.database_url)
    settings = {"cache_mode": mode, "redis_retry_s": 0.1, "redis_timeout_s": 0.5,
                "seed_ttl_s": 1}
    client = await make_client(info, **settings)
    other = await make_client(info, **settings)  # a second worker on the same backends
    user_id, headers = await signup_full(client)
    await post(client, headers, "before")
    assert await seqs(client, headers) == [1]
    assert await seqs(other, headers, after=0) == [1]

    own_valkey.kill()
    assert await post(client, headers, "during 1") == 2
    assert await post(client, headers, "during 2") == 3
    assert await seqs(client, headers, after=1) == [2, 3]
    assert await seqs(other, headers, after=1) == [2, 3]
    assert await seqs(client, headers) == [1, 2, 3]
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "degraded", "redis": "down", "postgres": "up"}
    resp = await client.get("/api/chat/room/messages", headers=headers)
    assert resp.json()["activeUsers"] == 0  # presence unknown
    created = await client.post("/api/notifications", headers=ADMIN, json={
        "userId": user_id, "type": "t", "title": "during", "content": "c"})
    assert created.status_code == 201
    unread = await client.get("/api/notifications/unread", headers=headers)
    assert unread.json()["count"] == 1

    own_valkey.start()  # empty, as after a crash
    await own_valkey.wait_up()
    await wait_redis_state(client, "up")
    await wait_redis_state(other, "up")
    assert await post(client, headers, "after") == 4
    assert await seqs(client, headers, after=3) == [4]
    assert await seqs(other, headers, after=3) == [4]
    assert await seqs(other, headers, after=0) == [1, 2, 3, 4]
    await asyncio.sleep(0.3)  # a background tick replays what failed during the outage
    r = aioredis.from_url(own_valkey.url)
    try:
        assert await r.zscore("chat:latest", "room") == 4
        assert await r.get(f"notifications:unread:{user_id}") == b"1"
    finally:
        await r.aclose()
    unread = await client.get("/api/notifications/unread", headers=headers)
    assert unread.json()["count"] == 1


async def test_service_starts_with_redis_down(
    make_client: MakeClient, own_valkey: OwnValkey, clean_backends: StackInfo
) -> None:
    url = own_valkey.url
    own_valkey.kill()
    info = StackInfo(redis_url=url, database_url=clean_backends.database_url)
    client = await make_client(info, redis_retry_s=0.1, redis_timeout_s=0.5)
    _, headers = await signup_full(client)
    assert await post(client, headers, "x") == 1
    assert await seqs(client, headers) == [1]
    assert (await client.get("/healthz")).json()["status"] == "degraded"
    metrics = await client.get("/api/metrics/message/latency")
    assert metrics.status_code == 503
