"""Fixtures for the service tests: an app on the session's real Valkey and PostgreSQL.

``make_client(**settings)`` builds ``create_app(Settings(...))``, runs its lifespan and
returns an ``httpx.AsyncClient`` on it (ASGI transport, no sockets); everything is
closed after the test. ``signup`` creates a user and returns its auth headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from target_service.app import create_app
from target_service.embedded.stack import StackInfo
from target_service.settings import Settings

ADMIN = {"X-Admin-Token": "test-admin"}
MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def service_settings(info: StackInfo, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": info.redis_url, "database_url": info.database_url,
        "admin_token": "test-admin", "presence_flush_ms": 50, "metrics_flush_ms": 100,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def make_client(clean_backends: StackInfo) -> AsyncIterator[MakeClient]:
    async with AsyncExitStack() as stack:

        async def make(info: StackInfo | None = None, **overrides: Any) -> httpx.AsyncClient:
            app = create_app(service_settings(info or clean_backends, **overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://service"
            )
            await stack.enter_async_context(client)
            client.app = app  # type: ignore[attr-defined]
            return client

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client()


async def signup(client: httpx.AsyncClient, name: str = "ann") -> dict[str, str]:
    resp = await client.post("/api/users", json={"name": name})
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def signup_full(client: httpx.AsyncClient, name: str = "ann") -> tuple[int, dict[str, str]]:
    resp = await client.post("/api/users", json={"name": name})
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data["id"], {"Authorization": f"Bearer {data['token']}"}
