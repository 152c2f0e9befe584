"""Which WebSocket client a Locust tab should use: CPU per message, memory per connection.

    uv run python -m loadtests.clients.providers.ws_bench --connections 2000 --rate 2

A separate process serves WebSockets (the ``websockets`` library on asyncio: a server,
never inside Locust) pushing a chat-sized JSON frame to every connection ``--rate``
times per second at random phases. For each client library a fresh, gevent-patched
client process opens ``--connections`` connections, each read by its own greenlet as a
tab's reader is, and reports its RSS growth per connection and its CPU time per
received message over ``--window-s``. Both libraries run side by side against the same
server, so the ratio is meaningful even on a busy machine; absolute figures are not.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections import deque
from typing import Any

import wsproto
import wsproto.events as ev
from gevent.lock import Semaphore

from loadtests.clients.providers.wsconn import WsClientConnection, WSClosed, WSConnection, _split

RECV_BYTES = 65536


class WsprotoConnection:
    """The contender: the sans-I/O ``wsproto`` state machine on a plain (gevent) socket.

    One ``recv`` may carry many frames, parsed from one buffer. Kept here, not in the
    provider, so the comparison can be re-run.
    """

    def __init__(self, url: str, *, headers: dict[str, str], timeout_s: float) -> None:
        host, port, netloc, target = _split(url)
        self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self._texts: deque[str] = deque()
        self._parts: list[str] = []
        self._closed: WSClosed | None = None
        self._write = Semaphore()  # pongs (reader greenlet) and sends (tab) share the socket
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        try:
            self._sock.sendall(
                self._ws.send(ev.Request(host=netloc, target=target, extra_headers=extra))
            )
            self._handshake()
            self._sock.settimeout(None)  # idle is normal; the server pings and drops dead ones
        except BaseException:
            self._sock.close()
            raise

    def _handshake(self) -> None:
        while True:
            self._feed()
            for event in self._ws.events():
                if isinstance(event, ev.AcceptConnection):
                    return
                if isinstance(event, ev.RejectConnection):
                    raise WSClosed(event.status_code, "handshake rejected")

    def _sendall(self, data: bytes) -> None:
        with self._write:
            self._sock.sendall(data)

    def _feed(self) -> None:
        data = self._sock.recv(RECV_BYTES)
        self._ws.receive_data(data or None)
        if not data:
            self._closed = self._closed or WSClosed(1006, "connection lost")

    def send_text(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        self._sendall(self._ws.send(ev.TextMessage(data=text)))

    def recv_text(self) -> str:
        while not self._texts:
            if self._closed is not None:
                raise self._closed
            self._feed()
            self._events()
        return self._texts.popleft()

    def _events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, ev.TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    self._texts.append("".join(self._parts))
                    self._parts.clear()
            elif isinstance(event, ev.Ping):
                self._sendall(self._ws.send(event.response()))
            elif isinstance(event, ev.CloseConnection):
                self._closed = WSClosed(event.code, event.reason or "")
                try:
                    self._sendall(self._ws.send(event.response()))
                except (OSError, wsproto.utilities.LocalProtocolError):
                    pass

    def close(self) -> None:
        try:
            if self._ws.state == wsproto.connection.ConnectionState.OPEN:
                self._sendall(self._ws.send(ev.CloseConnection(code=1000)))
        except (OSError, wsproto.utilities.LocalProtocolError):
            pass
        self._sock.close()


CONNECTIONS: dict[str, type[WSConnection]] = {
    "wsproto": WsprotoConnection,
    "websocket-client": WsClientConnection,
}

FRAME = json.dumps(
    {
        "op": "message",
        "channel": "bench-c0",
        "message": {
            "id": "123",
            "seq": 123,
            "channelId": "bench-c0",
            "content": "hello from 4711 at 1764581234.567",
            "author": {"id": 4711, "name": "tab-4711", "image": None},
            "createdAt": 1764581234567,
        },
    }
)


def serve(port: int, rate_per_s: float) -> None:
    import asyncio
    import random

    import websockets

    async def handler(ws: Any) -> None:
        await asyncio.sleep(random.uniform(0, 1 / rate_per_s))
        try:
            while True:
                await ws.send(FRAME)
                await asyncio.sleep(1 / rate_per_s)
        except websockets.ConnectionClosed:
            return

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, compression=None):
            await asyncio.Future()

    asyncio.run(main())


def client(lib: str, url: str, connections: int, window_s: float) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import psutil

    kind = CONNECTIONS[lib]
    proc = psutil.Process()
    received = [0]

    def read(conn: Any) -> None:
        while True:
            conn.recv_text()
            received[0] += 1

    gevent.sleep(0.1)
    rss_before = proc.memory_info().rss
    conns = []
    for _ in range(connections):
        conns.append(kind(url, headers={"Authorization": "Bearer x"}, timeout_s=30.0))
    rss_conns = proc.memory_info().rss
    readers = [gevent.spawn(read, c) for c in conns]
    gevent.sleep(2.0)
    t0, n0, wall0 = sum(os.times()[:2]), received[0], time.monotonic()
    gevent.sleep(window_s)
    cpu_s, n, wall_s = sum(os.times()[:2]) - t0, received[0] - n0, time.monotonic() - wall0
    rss_after = proc.memory_info().rss
    gevent.killall(readers)
    for c in conns:
        c.close()
    return {
        "lib": lib,
        "connections": connections,
        "messages": n,
        "messages_per_s": round(n / wall_s, 1),
        "cpu_us_per_message": round(cpu_s / max(n, 1) * 1e6, 1),
        "cpu_share": round(cpu_s / wall_s, 3),
        "kib_per_connection_open": round((rss_conns - rss_before) / connections / 1024, 1),
        "kib_per_connection_reading": round((rss_after - rss_before) / connections / 1024, 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2.0, help="frames/s per connection")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--libs", default="wsproto,websocket-client")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "server":
        serve(args.port, args.rate)
        return
    if args.role != "main":
        print(json.dumps(client(args.role, args.url, args.connections, args.window_s)))
        return
    port = _free_port()
    me = [sys.executable, "-m", "loadtests.clients.providers.ws_bench"]
    server = subprocess.Popen([*me, "--role=server", f"--port={port}", f"--rate={args.rate}"])
    try:
        time.sleep(1.5)
        for lib in args.libs.split(","):
            out = subprocess.run(
                [
                    *me,
                    f"--role={lib}",
                    f"--url=ws://127.0.0.1:{port}/",
                    f"--connections={args.connections}",
                    f"--window-s={args.window_s}",
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
            print(out.stdout.strip(), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
