"""A streaming HTTP/1.1 GET for Server-Sent Events, read incrementally on one socket.

:class:`EventStream` sends the request, checks the head (200, ``text/event-stream``),
then yields events as they arrive: chunked transfer coding is undone as bytes come
in, events are split on blank lines, and ``id``/``event``/``data`` fields are parsed
as the SSE spec says (comment lines, the heartbeat, are skipped). Gevent-cooperative
because Locust monkey-patches ``socket``.
"""

from __future__ import annotations

import codecs
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

RECV_BYTES = 65536


class StreamError(ConnectionError):
    """The stream's answer was not a 200 event stream, or it ended."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    id: str | None


class EventStream:
    """One SSE GET on its own socket; iterate :meth:`events` until the stream ends."""

    def __init__(
        self, base_url: str, path: str, *, headers: dict[str, str], timeout_s: float
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"EventStream needs an http:// base URL, got {base_url!r}")
        self.sock = socket.create_connection((url.hostname, url.port or 80), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = [
            f"GET {url.path.rstrip('/')}{path} HTTP/1.1",
            f"Host: {url.netloc}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.raw = b""
        self.chunked = False
        self.chunk_left = 0  # bytes still due in the current chunk (chunked only)
        self.ended = False
        self.text = ""
        self.utf8 = codecs.getincrementaldecoder("utf-8")()  # chunks may split a character
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            self._read_head()
        except BaseException:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def _recv(self) -> bytes:
        data = self.sock.recv(RECV_BYTES)
        if not data:
            raise StreamError("the event stream ended")
        return data

    def _read_head(self) -> None:
        while (end := self.raw.find(b"\r\n\r\n")) < 0:
            if len(self.raw) > RECV_BYTES:
                raise StreamError("response head too large")
            self.raw += self._recv()
        head, self.raw = self.raw[:end].decode("latin-1"), self.raw[end + 4 :]
        status_line, *fields = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            raise StreamError(f"SSE answered {status_line!r}")
        headers = {
            k.strip().lower(): v.strip().lower() for k, _, v in (f.partition(":") for f in fields)
        }
        if not headers.get("content-type", "").startswith("text/event-stream"):
            raise StreamError(f"SSE content-type {headers.get('content-type')!r}")
        self.chunked = "chunked" in headers.get("transfer-encoding", "")

    def _decoded(self) -> str:
        """Whatever body bytes are buffered, with the chunked framing removed."""
        if not self.chunked:
            body, self.raw = self.raw, b""
            return self.utf8.decode(body)
        out = bytearray()
        while self.raw:
            if self.chunk_left == 0:
                end = self.raw.find(b"\r\n")
                if end < 0:
                    break
                size_line, self.raw = self.raw[:end], self.raw[end + 2 :]
                if not size_line:  # the CRLF that closes a chunk
                    continue
                self.chunk_left = int(size_line.split(b";")[0], 16)
                if self.chunk_left == 0:
                    self.ended = True  # the last chunk: parse what came before it
                    break
                continue
            take = self.raw[: self.chunk_left]
            out += take
            self.raw = self.raw[len(take) :]
            self.chunk_left -= len(take)
        return self.utf8.decode(bytes(out))

    def events(self) -> Iterator[SSEEvent]:
        """Events as they arrive; raises :class:`StreamError` (or OSError) when it ends."""
        while True:
            self.text += self._decoded().replace("\r\n", "\n")
            while (end := self.text.find("\n\n")) >= 0:
                block, self.text = self.text[:end], self.text[end + 2 :]
                event = parse_event(block)
                if event is not None:
                    yield event
            if self.ended:
                raise StreamError("the event stream ended")
            self.raw += self._recv()


def parse_event(block: str) -> SSEEvent | None:
    """One event from its lines; None for a block of comments only (a heartbeat)."""
    name, data, event_id, seen = "message", [], None, False
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        seen = True
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "id":
            event_id = value
    return SSEEvent(event=name, data="\n".join(data), id=event_id) if seen else None
