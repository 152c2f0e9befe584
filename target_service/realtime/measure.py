"""Measure the push transports on a real service: ``python -m target_service.realtime.measure``.

Three measurements, each against a fresh service (uvicorn, 1 worker = one core's worth)
on the embedded Valkey and PostgreSQL (or ``--redis-url``/``--database-url``), with the
clients in *this* process, apart from the service:

* ``memory``: RSS of the worker while idle WebSockets (one subscription each) are opened
  in steps; the slope of RSS over connections is the service memory per connection.
* ``latency``: delivery latency (receive time - ``createdAt``) at light load for
  ``websocket``, ``sse`` and ``long-poll`` receivers, one writer posting at a fixed rate.
* ``longpoll``: how many held long-polls one worker keeps, the RSS they cost, and how
  long one message takes to answer all of them.

Loopback only. Figures on a shared machine are noisy: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import psutil
from websockets.asyncio.client import ClientConnection, connect

from target_service.embedded.stack import Stack
from target_service.serve import DEFAULT_WS, WS_IMPLEMENTATIONS, ServiceHandle, run_service

Recorder = Callable[[dict[str, Any]], None]


def signup(url: str, name: str) -> str:
    req = urllib.request.Request(f"{url}/api/users", data=json.dumps({"name": name}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        token: str = json.loads(resp.read())["token"]
    return token


def rss_bytes(service: ServiceHandle) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in service.worker_pids)


async def open_ws(url: str, token: str, channel: str) -> ClientConnection:
    ws = await connect(f"{url.replace('http', 'ws', 1)}/api/realtime/ws?token={token}",
                       compression=None, open_timeout=60, ping_interval=None)
    await ws.send(json.dumps({"op": "subscribe", "channel": channel, "after": None}))
    while json.loads(await ws.recv())["op"] != "subscribed":
        pass
    return ws


async def measure_memory(service: ServiceHandle, *, connections: int, steps: int,
                         channels: int) -> dict[str, Any]:
    token = signup(service.url, "mem")
    opened: list[ClientConnection] = [await open_ws(service.url, token, "warm")]
    await asyncio.sleep(1.0)
    points = [(1, rss_bytes(service))]
    per_step = connections // steps
    for step in range(steps):
        batch = [open_ws(service.url, token, f"m{(step * per_step + i) % channels}")
                 for i in range(per_step)]
        for start in range(0, len(batch), 200):  # bounded concurrency of handshakes
            opened += await asyncio.gather(*batch[start : start + 200])
        await asyncio.sleep(2.0)
        points.append((len(opened), rss_bytes(service)))
    slope, _ = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
    for ws in opened:
        await ws.close()
    return {"connections": len(opened), "points": points,
            "kib_per_connection": round(float(slope) / 1024, 2)}


async def ws_receiver(url: str, token: str, channel: str, record: Recorder,
                      stop: asyncio.Event) -> None:
    ws = await open_ws(url, token, channel)
    try:
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if frame["op"] == "message":
                record(frame["message"])
    finally:
        await ws.close()


async def http_get(port: int, path: str, token: str) -> tuple[asyncio.StreamReader,
                                                               asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                 "Connection: keep-alive\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return await reader.readexactly(length)


async def sse_receiver(url: str, token: str, channel: str, record: Recorder,
                       stop: asyncio.Event) -> None:
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await http_get(port, f"/api/realtime/sse?channel={channel}", token)
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except TimeoutError:
                continue
            if b"data: " in line:  # chunked framing: the data line is whole within a chunk
                record(json.loads(line.split(b"data: ", 1)[1]))
    finally:
        writer.close()


async def longpoll_receiver(url: str, token: str, channel: str, record: Recorder,
                            stop: asyncio.Event) -> None:
    port = int(url.rsplit(":", 1)[1])
    after = 0
    reader, writer = None, None
    try:
        while not stop.is_set():
            path = f"/api/chat/{channel}/messages?after={after}&waitMs=2000"
            reader, writer = await http_get(port, path, token)
            body = json.loads(await read_response(reader))
            writer.close()
            for message in body["messages"]:
                record(message)
                after = max(after, message["seq"])
    finally:
        if writer is not None:
            writer.close()


RECEIVERS: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
    "websocket": ws_receiver, "sse": sse_receiver, "long-poll": longpoll_receiver,
}


async def measure_latency(service: ServiceHandle, *, transport: str, receivers: int,
                          channels: int, rate_per_s: float, duration_s: float) -> dict[str, Any]:
    latencies_ms: list[float] = []

    def record(message: dict[str, Any]) -> None:
        latencies_ms.append(time.time() * 1000 - message["createdAt"])

    tokens = [signup(service.url, f"r{i}") for i in range(min(receivers, 20))]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(RECEIVERS[transport](
        service.url, tokens[i % len(tokens)], f"lat-{transport}-{i % channels}", record, stop))
        for i in range(receivers)]
    await asyncio.sleep(3.0)  # all connected (long-poll: first answers in)
    latencies_ms.clear()
    writer_token = signup(service.url, "writer")
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < duration_s:
        channel = f"lat-{transport}-{sent % channels}"
        await asyncio.to_thread(_post, service.url, writer_token, channel, f"m{sent}")
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate_per_s - time.monotonic()))
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    values = np.array(latencies_ms)
    expected = sent * receivers / channels
    return {"transport": transport, "receivers": receivers, "sent": sent,
            "delivered": len(values), "expected": expected,
            "p50_ms": round(float(np.percentile(values, 50)), 1) if len(values) else None,
            "p99_ms": round(float(np.percentile(values, 99)), 1) if len(values) else None}


def _post(url: str, token: str, channel: str, content: str) -> None:
    req = urllib.request.Request(f"{url}/api/chat/{channel}/messages",
                                 data=json.dumps({"content": content}).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30):
        pass


def scrape(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f"pollcap_{name}{{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def measure_longpoll(service: ServiceHandle, *, polls: int) -> dict[str, Any]:
    token = signup(service.url, "lp")
    _post(service.url, token, "held", "first")
    port = service.port
    base_rss = rss_bytes(service)
    opened = []
    for start in range(0, polls, 250):
        opened += await asyncio.gather(*(http_get(port, "/api/chat/held/messages?after=1"
                                                  "&waitMs=30000", token)
                                         for _ in range(min(250, polls - start))))
    deadline = time.monotonic() + 60
    while scrape(service.url, "realtime_longpoll_waiting") < polls and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    held = scrape(service.url, "realtime_longpoll_waiting")
    held_rss = rss_bytes(service)
    started = time.monotonic()
    await asyncio.to_thread(_post, service.url, token, "held", "wake")
    bodies = await asyncio.gather(*(read_response(reader) for reader, _ in opened))
    all_answered_s = time.monotonic() - started
    woke = sum(1 for body in bodies if json.loads(body)["messages"])
    for _, writer in opened:
        writer.close()
    return {"polls": polls, "held": held, "woken_with_message": woke,
            "all_answered_ms": round(all_answered_s * 1000, 1),
            "kib_per_held_poll": round((held_rss - base_rss) / max(held, 1) / 1024, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["memory", "latency", "longpoll"])
    parser.add_argument("--ws", choices=WS_IMPLEMENTATIONS, default=DEFAULT_WS,
                        help="uvicorn's WebSocket implementation (memory, latency)")
    parser.add_argument("--connections", type=int, default=3000, help="memory: idle sockets")
    parser.add_argument("--receivers", type=int, default=200, help="latency: receivers")
    parser.add_argument("--rate-per-s", type=float, default=10.0, help="latency: messages/s")
    parser.add_argument("--duration-s", type=float, default=20.0, help="latency: writing time")
    parser.add_argument("--transport", choices=list(RECEIVERS), default="websocket")
    parser.add_argument("--polls", type=int, default=5000, help="longpoll: held polls")
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with Stack(redis_url=args.redis_url, database_url=args.database_url) as info, run_service(
        redis_url=info.redis_url, database_url=info.database_url, workers=1, ws=args.ws,
        env={"POLLCAP_METRICS_ENABLED": "false"},
    ) as service:
        if args.what == "memory":
            result = asyncio.run(measure_memory(service, connections=args.connections,
                                                steps=5, channels=100))
        elif args.what == "latency":
            result = asyncio.run(measure_latency(
                service, transport=args.transport, receivers=args.receivers, channels=20,
                rate_per_s=args.rate_per_s, duration_s=args.duration_s))
        else:
            result = asyncio.run(measure_longpoll(service, polls=args.polls))
    print(json.dumps({"what": args.what, "ws": args.ws, **result}))


if __name__ == "__main__":
    main()
