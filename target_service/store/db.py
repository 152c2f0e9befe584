"""PostgreSQL calls with deadlines: a paused or restarted server costs a bounded wait, then 503.

asyncpg's own query timeout cancels the query through a second connection and makes
the pool wait for that cancel when the connection is released: with a paused server
(SIGSTOP) the wait has no end, and neither has the request. So every call here takes
a connection with an acquire timeout, runs under ``asyncio.timeout``, and after a
timeout or a lost connection *terminates* the connection (the pool opens a new one on
the next acquire) instead of resetting it. The caller gets :class:`DatabaseUnavailable`,
which the app answers with 503 and ``Retry-After``.

After a PostgreSQL restart every pooled connection is dead. asyncpg notices a closed
connection at acquire and reconnects, but one that died unseen fails on first use: a
read is retried once on a fresh connection; a write is not (it may have been sent), its
client retries with its ``Idempotency-Key``.

A write that timed out or lost its connection *after* it was sent has an unknown
outcome: a paused server reads the statement from its socket when it resumes and
commits it before it notices the client left. Such a failure is marked
``outcome_unknown`` (the app answers 504, not 503: a 503 means nothing was done).
A lost connection also expires the rest of the pool, so one failure per worker, not
one per pooled connection, follows a restart.

Releasing a connection can fail too: asyncpg resets it with the *acquire* timeout as the
budget and raises what the reset raised (a lagging loop, a stalled backend, a lost
socket), after terminating it. The statement has run by then, so a failed release
never fails the call (before, a committed sign-up answered 500): it is counted and
logged, and a failed statement keeps its own error.

Each failure names its ``cause`` (a few fixed words: "no connection in time",
"PostgreSQL connection lost", ...), the key under which the service's
:class:`LogLimiter` logs the first of a burst and then one summary per interval, not
one line per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from target_service.log_limit import LogLimiter

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08: connection failure/rejection
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: out of memory, disk full
)
ACQUIRE_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *CONNECTION_ERRORS)
log = logging.getLogger("pollcap.service")


class DatabaseUnavailable(Exception):
    """PostgreSQL did not answer within its deadline, or the connection was lost."""

    def __init__(
        self, message: str, *, cause: str, lost_connection: bool, sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.cause = cause  # fixed words naming the kind of failure (the log limiter's key)
        self.lost_connection = lost_connection
        self.sent = sent  # False: failed before any statement went out
        self.outcome_unknown = False  # set for writes that were sent


class Db:
    """The pool, with an acquire timeout and a command timeout on every call."""

    def __init__(
        self, pool: asyncpg.Pool, *, acquire_timeout_s: float, command_timeout_s: float,
        log_limiter: LogLimiter | None = None,
    ) -> None:
        self.pool = pool
        self.log_limiter = log_limiter or LogLimiter(logger=log)
        self.acquire_timeout_s = acquire_timeout_s
        self.command_timeout_s = command_timeout_s
        self.unavailable = 0  # calls answered with DatabaseUnavailable
        self.release_failures = 0  # releases whose reset failed (asyncpg terminated them)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """One connection for a few statements (a transaction), all under one deadline."""
        try:
            conn = await self.pool.acquire(timeout=self.acquire_timeout_s)
        except ACQUIRE_ERRORS as exc:
            self.unavailable += 1
            timed_out = isinstance(exc, TimeoutError)
            raise DatabaseUnavailable(
                f"no PostgreSQL connection: {_why(exc)}", sent=False,
                cause="no connection in time" if timed_out else "PostgreSQL unreachable",
                lost_connection=not timed_out) from exc
        healthy = False
        try:
            async with asyncio.timeout(self.command_timeout_s):
                yield conn
            healthy = True
        except TimeoutError as exc:
            self.unavailable += 1
            raise DatabaseUnavailable(
                f"PostgreSQL did not answer within {self.command_timeout_s:g} s",
                cause="PostgreSQL too slow", lost_connection=False) from exc
        except CONNECTION_ERRORS as exc:
            self.unavailable += 1
            self.pool.expire_connections()
            raise DatabaseUnavailable(f"PostgreSQL connection lost: {_why(exc)}",
                                      cause="PostgreSQL connection lost",
                                      lost_connection=True) from exc
        except asyncpg.PostgresError:
            healthy = True  # the server answered (a constraint, a bad value): still usable
            raise
        finally:
            if not healthy:
                conn.terminate()  # never wait on a server that may be paused
            await self._release(conn)

    async def _release(self, conn: asyncpg.Connection) -> None:
        """Back to the pool; a reset that failed costs the connection, never the call."""
        try:
            await self.pool.release(conn)
        except Exception as exc:  # noqa: BLE001 - asyncpg terminated it; the pool opens another
            self.release_failures += 1
            self.log_limiter.warning(
                "failed connection resets at release",
                "a PostgreSQL connection failed its reset at release (%s); it was closed",
                _why(exc))

    async def _call(self, method: str, sql: str, args: tuple[Any, ...], *, write: bool) -> Any:
        for attempt in (1, 2):
            try:
                async with self.connection() as conn:
                    return await getattr(conn, method)(sql, *args)
            except DatabaseUnavailable as exc:
                exc.outcome_unknown = write and exc.sent
                if write or attempt == 2 or not exc.lost_connection:
                    raise
        raise AssertionError("unreachable")

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        result: list[asyncpg.Record] = await self._call("fetch", sql, args, write=False)
        return result

    async def fetchrow(self, sql: str, *args: Any, write: bool = False) -> asyncpg.Record | None:
        result: asyncpg.Record | None = await self._call("fetchrow", sql, args, write=write)
        return result

    async def fetchval(self, sql: str, *args: Any, write: bool = False) -> Any:
        return await self._call("fetchval", sql, args, write=write)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
