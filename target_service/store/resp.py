"""A minimal pipelined RESP2 client for the one Redis read every poll makes.

redis-py's asyncio client spends ~100 µs of CPU per command (pool, locks, encoders),
as much as the rest of a poll; this protocol writes prepared bytes and parses the
reply in place, for a few µs. It is used only for the batched version read
(``ZMSCORE``); everything else goes through redis-py. Replies are matched to commands
in order (RESP is FIFO per connection); a lost connection fails every pending command,
and the next command reconnects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

RespValue = Any


class RespError(Exception):
    """An error reply (``-ERR ...``) or a broken connection."""


def encode(*args: str | bytes | int | float) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(buf: bytes | bytearray, pos: int) -> tuple[RespValue, int] | None:
    """One reply starting at ``pos``: ``(value, next_pos)``, or None if incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line = buf[pos : pos + 1], bytes(buf[pos + 1 : end])
    nxt = end + 2
    if kind == b"+":
        return line.decode(), nxt
    if kind == b"-":
        return RespError(line.decode()), nxt
    if kind == b":":
        return int(line), nxt
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, nxt
        if len(buf) < nxt + size + 2:
            return None
        return bytes(buf[nxt : nxt + size]), nxt + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, nxt
        items = []
        for _ in range(count):
            parsed = parse(buf, nxt)
            if parsed is None:
                return None
            item, nxt = parsed
            items.append(item)
        return items, nxt
    raise RespError(f"unexpected reply type {kind!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiting: deque[asyncio.Future[RespValue]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        pos = 0
        while self.waiting:
            parsed = parse(self.buffer, pos)
            if parsed is None:
                break
            value, pos = parsed
            future = self.waiting.popleft()
            if not future.done():
                if isinstance(value, RespError):
                    future.set_exception(value)
                else:
                    future.set_result(value)
        del self.buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError(f"redis connection lost: {exc}"))


class RespClient:
    """One connection, opened on first use and after a loss."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            raise ValueError(f"fast path supports redis:// URLs only, got {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.lstrip("/") or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s = timeout_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connection(self) -> _Protocol:
        if self._proto is not None and self._proto.transport is not None:
            return self._proto
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._proto is not None and self._proto.transport is not None:
                return self._proto
            loop = asyncio.get_running_loop()
            _, proto = await asyncio.wait_for(
                loop.create_connection(_Protocol, self.host, self.port), self.timeout_s
            )
            self._proto = proto
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                await self._send(proto, ("AUTH", *auth))
            if self.db:
                await self._send(proto, ("SELECT", self.db))
            return proto

    async def _send(self, proto: _Protocol, args: tuple[str | bytes | int, ...]) -> RespValue:
        if proto.transport is None:
            raise ConnectionError("redis connection lost")
        future: asyncio.Future[RespValue] = asyncio.get_running_loop().create_future()
        proto.waiting.append(future)
        proto.transport.write(encode(*args))
        timer = asyncio.get_running_loop().call_later(self.timeout_s, _expire, future, proto)
        try:
            return await future
        finally:
            timer.cancel()

    async def execute(self, *args: str | bytes | int) -> RespValue:
        return await self._send(await self._connection(), args)

    async def pipeline(self, commands: list[tuple[str | bytes | int, ...]]) -> list[RespValue]:
        """Several commands in one write; replies in order; the first error is raised."""
        proto = await self._connection()
        if proto.transport is None:
            raise ConnectionError("redis connection lost")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[RespValue]] = [loop.create_future() for _ in commands]
        proto.waiting.extend(futures)
        proto.transport.write(b"".join(encode(*args) for args in commands))
        timer = loop.call_later(self.timeout_s, _expire, futures[-1], proto)
        try:
            await futures[-1]  # replies come in order: the last one resolves last
        finally:
            timer.cancel()
            for future in futures:  # a lost connection fails them all; we raise one
                if future.done() and not future.cancelled():
                    future.exception()  # marks it retrieved: no "never retrieved" noise
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None


def _expire(future: asyncio.Future[RespValue], proto: _Protocol) -> None:
    """A reply that did not come in time: the connection's order is lost, drop it."""
    if not future.done():
        future.set_exception(TimeoutError("redis did not answer in time"))
        if proto.transport is not None:
            proto.transport.abort()
