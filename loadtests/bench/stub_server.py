"""A minimal in-memory server speaking the poll API, for the *generator* bench only.

The generator bench asks whether one Locust process can keep thousands of
pollers on schedule; on a small machine the reference service (one core, Redis,
PostgreSQL) saturates long before that, and its queueing would be blamed on the
generator. This target answers the same routes (sign-up, poll with cursor, send,
notifications, mark read) from memory on uvloop + httptools, so the generator
is the only thing being measured. It is never used to measure the service.

    python -m loadtests.bench.stub_server --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

import httptools
import orjson

INTERVAL_MS = 2000


class ChatMemory:
    """Users, channels of pre-encoded messages, and unread notifications, in dicts."""

    def __init__(self, *, gap_every: int = 0, repeat_every: int = 0) -> None:
        self.gap_every = gap_every  # >0: never serve seq % gap_every == 0 (a lossy server)
        self.repeat_every = repeat_every  # >0: serve seq % repeat_every == 0 twice
        self.tokens: dict[str, int] = {}
        self.channels: dict[str, list[bytes]] = {}
        self.unread: dict[int, dict[int, bytes]] = {}
        self.next_note = 0

    def route(self, method: bytes, url: bytes, auth: bytes, body: bytes) -> tuple[int, bytes]:
        parts = urlsplit(url.decode())
        path = parts.path.rstrip("/").split("/")
        user = self.tokens.get(auth.decode().removeprefix("Bearer "))
        if method == b"POST" and parts.path == "/api/users":
            uid = len(self.tokens) + 1
            self.tokens[f"t{uid}"] = uid
            return 201, orjson.dumps({"id": uid, "name": "u", "image": None, "token": f"t{uid}"})
        if parts.path == "/healthz":
            return 200, b'{"status":"ok"}'
        if parts.path == "/api/notifications" and method == b"POST":
            note = orjson.loads(body or b"{}")
            self.next_note += 1
            doc = {"id": self.next_note, "read": False, "createdAt": time.time() * 1000, **note}
            self.unread.setdefault(int(note.get("userId", 0)), {})[self.next_note] = orjson.dumps(
                doc
            )
            return 201, orjson.dumps(doc)
        if user is None:
            return 401, b'{"detail":"unauthorized"}'
        if len(path) == 5 and path[1:3] == ["api", "chat"] and path[4] == "messages":
            return self._chat(method, path[3], parts.query, user, body)
        if parts.path == "/api/notifications/unread":
            notes = list(self.unread.get(user, {}).values())
            return 200, b'{"notifications":[' + b",".join(notes) + b'],"count":%d}' % len(notes)
        if parts.path == "/api/notifications/read":
            ids = orjson.loads(body or b"{}").get("ids", [])
            mine = self.unread.get(user, {})
            for note_id in ids:
                mine.pop(note_id, None)
            return 200, b'{"updated":%d}' % len(ids)
        return 404, b'{"detail":"not found"}'

    def _chat(
        self, method: bytes, channel: str, query: str, user: int, body: bytes
    ) -> tuple[int, bytes]:
        log = self.channels.setdefault(channel, [])
        if method == b"POST":
            seq = len(log) + 1
            message = {
                "id": seq,
                "seq": seq,
                "channelId": channel,
                "content": orjson.loads(body or b"{}").get("content", ""),
                "author": {"id": user, "name": "u", "image": None},
                "createdAt": time.time() * 1000,
            }
            log.append(orjson.dumps(message))
            return 201, b'{"message":' + log[-1] + b"}"
        params = parse_qs(query)
        after = int(params.get("after", ["0"])[0])
        limit = int(params.get("limit", ["50"])[0])
        page = log[after : after + limit]
        if self.gap_every or self.repeat_every:
            page = self._faulty(page, first_seq=after + 1)
        return 200, (
            b'{"messages":['
            + b",".join(page)
            + b'],"activeUsers":0,"pollIntervalMs":%d}' % INTERVAL_MS
        )

    def _faulty(self, page: list[bytes], *, first_seq: int) -> list[bytes]:
        """The page as a broken server would serve it (for the loss-detection test)."""
        out = []
        for seq, message in enumerate(page, start=first_seq):
            if self.gap_every and seq % self.gap_every == 0:
                continue
            out.append(message)
            if self.repeat_every and seq % self.repeat_every == 0:
                out.append(message)
        return out


class _Protocol(asyncio.Protocol):
    def __init__(self, memory: ChatMemory) -> None:
        self.memory = memory
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.auth = b""
        self.body = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.auth, self.body = b"", b"", b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.auth = value

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        status, payload = self.memory.route(method, self.url, self.auth, self.body)
        head = (
            b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"x-poll-interval-ms: %d\r\n\r\n" % (status, len(payload), INTERVAL_MS)
        )
        if self.transport is not None:
            self.transport.write(head + payload)


async def serve(port: int, memory: ChatMemory) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(memory), "127.0.0.1", port, backlog=4096)
    print(f"ready http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def run_bench_target(
    *,
    port: int,
    cpu_affinity: Sequence[int] | None = None,
    gap_every: int = 0,
    repeat_every: int = 0,
) -> Iterator[str]:
    """Start the bench target in a subprocess (optionally pinned); yield its URL; stop it."""
    cpus = set(cpu_affinity) if cpu_affinity else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtests.bench.stub_server",
            "--port",
            str(port),
            "--gap-every",
            str(gap_every),
            "--repeat-every",
            str(repeat_every),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the bench target did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--gap-every", type=int, default=0, help="drop every Nth seq")
    parser.add_argument("--repeat-every", type=int, default=0, help="repeat every Nth seq")
    args = parser.parse_args()
    memory = ChatMemory(gap_every=args.gap_every, repeat_every=args.repeat_every)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, memory))


if __name__ == "__main__":
    main()
