"""Readiness: wait until a server answers (PING, ``SELECT 1``), or say why it never will.

For a server we launched, "not yet" is retried until the deadline and an exit of the
process ends the wait with the tail of its log; for a server given by URL, the first
failure is the answer (nothing of ours can make it come up).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from target_service.embedded.children import POLL_S, Launched
from target_service.errors import UserError


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def wait_redis(
    url: str, *, deadline: float, launched: bool, popen: subprocess.Popen[bytes] | None = None
) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        while True:
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if not launched or time.monotonic() > deadline:
                    raise UserError(f"Redis at {url} does not answer: {exc}") from None
            except redis.RedisError as exc:
                raise UserError(f"Redis at {url} refused PING: {exc}") from None
            time.sleep(POLL_S)
    finally:
        client.close()


async def _pg_ping(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=2)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def wait_postgres(
    url: str,
    *,
    deadline: float,
    launched: bool,
    popen: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    while True:
        if popen is not None and popen.poll() is not None:
            tail = _log_tail(log_path) if log_path else ""
            raise UserError(
                f"PostgreSQL exited while starting (code {popen.returncode}) {tail}".strip()
            )
        try:
            asyncio.run(_pg_ping(url))
            return
        except Exception as exc:  # asyncpg raises many types; all mean "not yet"
            if not launched or time.monotonic() > deadline:
                raise UserError(f"PostgreSQL at {_redact(url)} does not answer: {exc}") from None
        time.sleep(POLL_S)


def wait_ready(launched: Launched, *, deadline: float) -> None:
    if launched.popen.poll() is not None:
        raise UserError(
            f"{launched.kind} exited while starting (code {launched.popen.returncode}); "
            f"{_log_tail(launched.log_path)}"
        )
    if launched.kind == "valkey":
        wait_redis(launched.url, deadline=deadline, launched=True, popen=launched.popen)
    else:
        wait_postgres(
            launched.url,
            deadline=deadline,
            launched=True,
            popen=launched.popen,
            log_path=launched.log_path,
        )


def _redact(url: str) -> str:
    if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
        scheme, rest = url.split("//", 1)
        user = rest.split(":", 1)[0]
        return f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
    return url
