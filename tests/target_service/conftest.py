"""Fixtures for the service tests: an app on the session's real Valkey and PostgreSQL.

``make_client(**settings)`` builds ``create_app(Settings(...))``, runs its lifespan and
returns an ``httpx.AsyncClient`` on it (ASGI transport, no sockets); everything is
closed after the test. Plain helpers (``signup``, ``ADMIN``, ``MakeClient``) live in
``tests/target_service/fixtures.py``, which test modules import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from target_service.app import create_app
from target_service.embedded.stack import Stack, StackInfo
from tests.target_service.fixtures import MakeClient, reset_backends, service_settings


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


@pytest.fixture(scope="session")
def own_stack() -> Iterator[Stack]:
    """A Valkey and a PostgreSQL of the fault tests' own, to pause, kill and restart
    without disturbing the session's stack."""
    stack = Stack(environ={})
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def fault_stack(own_stack: Stack) -> Stack:
    """``own_stack`` running (resumed if a test left it paused) and empty."""
    for kind in ("valkey", "postgres"):
        own_stack.resume(kind)
    assert own_stack.info is not None
    reset_backends(own_stack.info)
    return own_stack
