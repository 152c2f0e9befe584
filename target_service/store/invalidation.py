"""Version pushes: every worker subscribes to ``chat:versions``; writers publish there.

With the subscription healthy, a poll costs no Redis round trip at all: it first drains
its subscription socket *synchronously* (a non-blocking ``recv``), then compares the
channel's cached seq with the newest seq announced. Why that is never older than an
acknowledged write:

1. the writer commits, then ``PUBLISH chat:versions "{channel} {seq}"``;
2. it then sends ``PING`` on the same connection and waits for the reply before
   answering 201. Redis (single-threaded command loop, the default and what our stack
   runs) writes all pending output, the subscribers' messages included, before it reads
   the next command, so once the PING is answered every subscriber's kernel buffer
   already holds the message;
3. a poll that arrives after the 201 drains that buffer before answering.

The subscription is *healthy* only while it answers its own PINGs (every
``heartbeat_s``; stale after ``stale_after_s``). When it is not (Redis down, connection
lost, a lagging worker), polls fall back to the batched version read in ``cache.py``,
and after every (re)subscription the cached entries are dropped, since announcements
may have been missed meanwhile. Known limits: a Valkey run with ``io-threads`` > 1, or a
subscriber so far behind that Redis holds its output, voids step 2's ordering.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from target_service.store.keys import VERSIONS_CHANNEL
from target_service.store.resp import encode, parse


class Invalidations:
    def __init__(self, url: str, *, heartbeat_s: float = 0.1, stale_after_s: float = 0.5,
                 timeout_s: float = 1.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.timeout_s = timeout_s
        self.known: dict[str, int] = {}  # channel -> newest seq announced since subscribing
        self.subscribed = False
        self.last_alive = 0.0
        self.subscriptions = 0
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._on_subscribe: list[Callable[[], None]] = []
        self._on_version: list[Callable[[str, int], None]] = []
        self._task: asyncio.Task[None] | None = None

    def on_subscribe(self, callback: Callable[[], None]) -> None:
        self._on_subscribe.append(callback)

    def on_version(self, callback: Callable[[str, int], None]) -> None:
        """Called with ``(channel, seq)`` for every announcement (the realtime fan-out hub)."""
        self._on_version.append(callback)

    def healthy(self) -> bool:
        return self.subscribed and time.monotonic() - self.last_alive < self.stale_after_s

    def newest(self, channel_id: str) -> int:
        """Drain pending announcements, then the newest seq announced for the channel."""
        self.drain()
        return self.known.get(channel_id, 0)

    def drain(self) -> None:
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._lost()
                return
            if not data:
                self._lost()
                return
            self._buffer += data
        if self._buffer:
            self._parse()

    def _parse(self) -> None:
        pos = 0
        while True:
            parsed = parse(self._buffer, pos)
            if parsed is None:
                break
            item, pos = parsed
            self._handle(item)
        del self._buffer[:pos]

    def _handle(self, item: object) -> None:
        self.last_alive = time.monotonic()
        if not isinstance(item, list) or not item:
            return
        kind = item[0]
        if kind == b"message" and len(item) == 3:
            channel, _, seq = bytes(item[2]).decode().rpartition(" ")
            if int(seq) > self.known.get(channel, 0):
                self.known[channel] = int(seq)
            for on_version in self._on_version:
                on_version(channel, int(seq))
        elif kind == b"subscribe":
            self.known.clear()
            self.subscribed = True
            self.subscriptions += 1

    def _lost(self) -> None:
        self.subscribed = False
        sock, self._sock = self._sock, None
        self._buffer.clear()
        if sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (self.host, self.port)),
                                   self.timeout_s)
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                await loop.sock_sendall(sock, encode("AUTH", *auth))
                reply = await asyncio.wait_for(loop.sock_recv(sock, 1024), self.timeout_s)
                if not reply.startswith(b"+OK"):
                    raise OSError(f"redis AUTH failed: {reply[:80]!r}")
            await loop.sock_sendall(sock, encode("SUBSCRIBE", VERSIONS_CHANNEL))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        loop.add_reader(sock.fileno(), self.drain)

    async def run(self) -> None:
        """Keep the subscription: connect, PING every ``heartbeat_s``, reconnect on loss."""
        while True:
            if self._sock is None:
                try:
                    await self._connect()
                except (OSError, TimeoutError):
                    await asyncio.sleep(self.heartbeat_s * 5)
                    continue
            else:
                try:
                    self._sock.send(encode("PING"))
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self._lost()
            await asyncio.sleep(self.heartbeat_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)
        self._lost()
