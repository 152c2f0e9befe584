"""Helpers the service tests share: settings on the session's backends, sign-up, admin headers.

Imported by test modules as ``tests.target_service.fixtures`` (the fixtures themselves
are in ``conftest.py``); nothing here starts or connects at import time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from target_service.embedded.stack import StackInfo
from target_service.settings import Settings

ADMIN_TOKEN = "test-admin"
ADMIN = {"X-Admin-Token": ADMIN_TOKEN}
MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def service_settings(info: StackInfo, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": info.redis_url, "database_url": info.database_url,
        "admin_token": ADMIN_TOKEN, "presence_flush_ms": 50, "metrics_flush_ms": 100,
        "gc_tuning": False,  # an in-process app must not retune (freeze) the test process
    }
    values.update(overrides)
    return Settings(**values)


async def signup(client: httpx.AsyncClient, name: str = "ann") -> dict[str, str]:
    resp = await client.post("/api/users", json={"name": name})
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def signup_full(client: httpx.AsyncClient, name: str = "ann") -> tuple[int, dict[str, str]]:
    resp = await client.post("/api/users", json={"name": name})
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data["id"], {"Authorization": f"Bearer {data['token']}"}


def reset_backends(info: StackInfo) -> None:
    """FLUSHALL and a fresh ``public`` schema (for a stack other than the session's)."""
    import asyncio

    import asyncpg
    import redis

    client = redis.Redis.from_url(info.redis_url)
    try:
        client.flushall()
    finally:
        client.close()

    async def reset_schema() -> None:
        conn = await asyncpg.connect(info.database_url)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    asyncio.run(reset_schema())
