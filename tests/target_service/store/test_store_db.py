"""``store.db.Db`` on the real PostgreSQL: what a failed release of a connection costs.

asyncpg resets a connection when it goes back to the pool, with the *acquire* timeout as
the reset's budget, and raises what the reset raised. A worker whose loop lags more than
that (10,000 WebSockets on one worker) or a backend that stalls after the statement ran
made a committed sign-up answer 500. Here the connection's own backend process is
stopped (SIGSTOP, as ``Stack.pause`` does) after the statement ran, so the reset cannot
finish in time.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from target_service.embedded.stack import StackInfo
from target_service.store.db import Db

ACQUIRE_TIMEOUT_S = 0.2


@pytest.fixture
async def db(clean_backends: StackInfo) -> AsyncIterator[Db]:
    pool = await asyncpg.create_pool(clean_backends.database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        yield Db(pool, acquire_timeout_s=ACQUIRE_TIMEOUT_S, command_timeout_s=1.0)
    finally:
        pool.terminate()


async def test_a_statement_that_ran_is_not_failed_by_a_release_that_timed_out(db: Db) -> None:
    started = time.monotonic()
    pid = 0
    try:
        async with db.connection() as conn:
            value = await conn.fetchval("SELECT 41 + 1")
            pid = conn.get_server_pid()
            os.kill(pid, signal.SIGSTOP)  # the reset at release cannot be answered
        elapsed_s = time.monotonic() - started
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
    assert value == 42
    assert db.release_failures == 1 and db.unavailable == 0
    assert elapsed_s < ACQUIRE_TIMEOUT_S + 0.5  # the release's own budget, not more
    assert await db.fetchval("SELECT 1") == 1  # the pool opens a fresh connection


async def test_a_failed_statement_keeps_its_own_error_when_the_release_fails(db: Db) -> None:
    pid = 0
    try:
        with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
            async with db.connection() as conn:
                pid = conn.get_server_pid()
                try:
                    await conn.fetchval("SELECT 1 / 0")
                finally:
                    os.kill(pid, signal.SIGSTOP)
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
    assert db.release_failures == 1
