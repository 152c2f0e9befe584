"""Session-wide real backends: the embedded stack users get, or servers given by URL.

``--redis-url`` / ``--database-url`` (or POLLCAP_REDIS_URL / POLLCAP_DATABASE_URL)
point the suite at real servers; otherwise the launcher starts Valkey and PostgreSQL
once per session. ``clean_backends`` empties both before a test that writes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator

import pytest
import redis

from target_service.embedded.stack import Stack, StackInfo

# The suite starts hundreds of Python processes (services, Locust, CLIs), each importing
# pandas, numpy, matplotlib and Locust. With PYTHONDONTWRITEBYTECODE set (some containers
# set it), every one of them compiles all of that from source again: about 5 s per process
# here, most of a CLI test's time. The suite lets Python keep its bytecode cache.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pollcap")
    group.addoption(
        "--redis-url",
        default=os.environ.get("POLLCAP_REDIS_URL"),
        help="use this Redis/Valkey instead of the embedded one (it is FLUSHALLed)",
    )
    group.addoption(
        "--database-url",
        default=os.environ.get("POLLCAP_DATABASE_URL"),
        help="use this PostgreSQL instead of the embedded one (schema public is reset)",
    )


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None) or 0
    given = config.getoption("--redis-url") or config.getoption("--database-url")
    if workers and given:  # each worker would empty the other's data under its tests
        raise pytest.UsageError(
            "--redis-url/--database-url (or POLLCAP_REDIS_URL/POLLCAP_DATABASE_URL) are "
            "emptied before each test: run them with one worker (add -n 0)"
        )


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[StackInfo]:
    with Stack(
        redis_url=request.config.getoption("--redis-url"),
        database_url=request.config.getoption("--database-url"),
        environ={},
    ) as info:
        yield info


@pytest.fixture(scope="session")
def redis_url(stack: StackInfo) -> str:
    return stack.redis_url


@pytest.fixture(scope="session")
def database_url(stack: StackInfo) -> str:
    return stack.database_url


async def _reset_schema(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def reset_backends(info: StackInfo) -> None:
    import redis

    client = redis.Redis.from_url(info.redis_url)
    try:
        client.flushall()
    finally:
        client.close()
    asyncio.run(_reset_schema(info.database_url))


@pytest.fixture
def clean_backends(stack: StackInfo) -> StackInfo:
    """Empty Redis and PostgreSQL before the test (tests never see each other's data)."""
    reset_backends(stack)
    return stack


@pytest.fixture
def client(clean_backends: StackInfo) -> Iterator[redis.Redis]:
    """A Redis client on the emptied stack (``tests/target_service`` has its own
    ``client``: an HTTP client of the service)."""
    r = redis.Redis.from_url(clean_backends.redis_url)
    yield r
    r.close()
