"""A small closed-loop HTTP/1.1 load generator for the bench: raw keep-alive sockets.

Python HTTP clients (httpx, aiohttp) spend more CPU per request than the service under
test, so the bench would measure the client. This one is an asyncio ``Protocol`` on
uvloop that writes prepared request bytes and parses only the status line and
``Content-Length``: one process drives tens of thousands of requests per second.
Loopback only; every run is bounded by ``duration_s``.

Run as ``python -m target_service.bench.loadgen --url ... --duration-s 5 --connections 32
--request 'GET /api/ping' [--header 'Authorization: Bearer x'] [--body '{...}']``;
prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Stats:
    started: float = 0.0
    measure_from: float = 0.0
    stop_at: float = 0.0
    done: int = 0
    total: int = 0  # including the warm-up
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)


def build_request(*, method: str, path: str, host: str, headers: list[str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Client(asyncio.Protocol):
    def __init__(
        self, requests: list[bytes], stats: Stats, closed: asyncio.Future[None], *, first: int
    ) -> None:
        self.requests = requests
        self.stats = stats
        self.closed = closed
        self.buffer = bytearray()
        self.index = first  # connections start at different requests of the rotation
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests[self.index % len(self.requests)])
        self.index += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                eol = head.find(b"\r\n", at)
                length = int(head[at + 15 : eol if eol > 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            status = int(self.buffer[9:12])
            del self.buffer[:total]
            self._complete(status)

    def _complete(self, status: int) -> None:
        now = time.perf_counter()
        stats = self.stats
        stats.total += 1
        if now >= stats.measure_from:
            stats.done += 1
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            stats.latencies_s.append(now - self.sent_at)
        if now < stats.stop_at:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run(
    *, url: str, requests: list[bytes], connections: int, duration_s: float, warmup_s: float
) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"loadgen only targets loopback, not {parts.hostname}")
    loop = asyncio.get_running_loop()
    stats = Stats()
    stats.started = time.perf_counter()
    stats.measure_from = stats.started + warmup_s
    stats.stop_at = stats.measure_from + duration_s
    closed = []
    for number in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        closed.append(done)
        await loop.create_connection(
            lambda d=done, n=number: Client(requests, stats, d, first=n),  # type: ignore[misc]
            parts.hostname, parts.port or 80,
        )
    await asyncio.wait_for(asyncio.gather(*closed), timeout=warmup_s + duration_s + 30)
    elapsed_s = min(time.perf_counter(), stats.stop_at + 5) - stats.measure_from
    lat_ms = np.array(stats.latencies_s) * 1000
    return {
        "requests": stats.done,
        "total_requests": stats.total,
        "seconds": round(elapsed_s, 3),
        "rps": round(stats.done / duration_s, 1),
        "statuses": {str(k): v for k, v in stats.statuses.items()},
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 3) if lat_ms.size else None,
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 3) if lat_ms.size else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--request", action="append", required=True,
                        help="'METHOD /path' (repeat to rotate between requests)")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default="")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration-s", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    host = urlsplit(args.url).netloc
    requests = []
    for spec in args.request:
        method, path = spec.split(" ", 1)
        requests.append(build_request(method=method, path=path, host=host, headers=args.header,
                                      body=args.body.encode()))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    result = asyncio.run(run(url=args.url, requests=requests, connections=args.connections,
                             duration_s=min(args.duration_s, 600), warmup_s=args.warmup_s))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
