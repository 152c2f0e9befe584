"""A minimal keep-alive HTTP/1.1 client: the one connection of a simulated tab.

Locust's FastHttpSession costs 300-450 us of CPU per request (cookie jar, header
merging, URL parsing, response wrappers, redirect handling); at 4,000 users
polling every 2 s that is the whole core. A poll needs none of it: one socket per
user, a request built from a few byte strings, a response read until its
``Content-Length``. The tab's rare POSTs (sign-up, send, mark read) use the same
socket, so a user holds one descriptor, as a browser tab's HTTP/1.1 keep-alive
does. Chunked bodies are decoded too (rare, but valid HTTP), and https works
(certificates unchecked, as FastHttpUser does by default).
Sockets are gevent-cooperative because Locust monkey-patches ``socket``.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from loadtests.clients.greenio import GreenIO, green_io

RECV_BYTES = 65536
HINT_HEADER = "X-Poll-Interval-Ms"


class HTTPProtocolError(Exception):
    """The server's reply was not HTTP/1.x as expected."""


class LeanConnection:
    """One keep-alive connection to ``base_url``; reconnects after close or error."""

    def __init__(
        self, base_url: str, *, timeout_s: float, hint_header: str | None = HINT_HEADER
    ) -> None:
        """``hint_header``: the answer header whose integer value :meth:`get` returns (the
        target description's interval hint; the reference service's X-Poll-Interval-Ms);
        None: no header is read."""
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"LeanConnection needs an http(s):// base URL, got {base_url!r}")
        self.host = url.hostname
        self.tls = url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path.rstrip("/")
        self.timeout_s = timeout_s
        self._host_line = f"Host: {url.netloc}\r\n".encode()
        self._sock: socket.socket | None = None
        self._io: GreenIO | None = None  # under gevent: I/O without a timer per wait
        self._buf = b""
        self._headers: dict[str, str] = {}  # the last request's headers, and their lines
        self._header_lines = b""
        self._answered = False  # some bytes of the current answer arrived
        # b"\r\n" never names a header (heads are split on it): no hint is read
        self._hint_key = hint_header.strip().lower().encode() if hint_header else b"\r\n"

    def close(self) -> None:
        if self._sock is not None:
            if self._io is not None:
                self._io.end()
                self._io = None
            self._sock.close()
            self._sock = None
        self._buf = b""

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, int | None]:
        """GET ``path``: (status, body, the hint header's value or None). Raises on I/O errors."""
        return self.request(b"GET", path, headers)

    def post_json(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, int | None]:
        """POST an already-encoded JSON ``body`` on the same connection as the polls."""
        return self.request(b"POST", path, headers, body=body)

    def request(
        self, method: bytes, path: str, headers: dict[str, str], *, body: bytes | None = None
    ) -> tuple[int, bytes, int | None]:
        """One request on the kept-alive socket (opened on first use).

        A reused socket the server had closed fails before any byte of the answer
        arrives; then, like a browser, the request is sent once more on a new socket.
        """
        if headers != self._headers:  # a tab sends the same few headers every time
            self._headers = dict(headers)
            self._header_lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        parts = [
            method,
            b" ",
            f"{self.prefix}{path} HTTP/1.1\r\n".encode(),
            self._host_line,
            self._header_lines,
        ]
        if body is not None:
            parts.append(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body))
        parts += [b"\r\n", body or b""]
        request = b"".join(parts)
        fresh = self._sock is None
        self._answered = False
        try:
            return self._exchange(request)
        except (ConnectionError, HTTPProtocolError, OSError):
            self.close()
            if fresh or self._answered:
                raise
            return self._exchange(request)  # a kept-alive socket the server closed: once more

    def _exchange(self, request: bytes) -> tuple[int, bytes, int | None]:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:  # like FastHttpUser's default (insecure=True): no certificate check
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=self.host)
            self._sock = sock
            self._io = green_io(sock, timeout_s=self.timeout_s)
        io = self._io
        if io is None:
            self._sock.sendall(request)
            return self._answer()
        io.begin()
        try:
            io.sendall(request)
            if not self._buf:  # nothing left over from the last answer: wait for this one
                io.wait_readable()
            return self._answer()
        finally:
            io.end()

    def _answer(self) -> tuple[int, bytes, int | None]:
        head = self._read_head()
        status, length, chunked, close, interval_ms = _parse_head(head, self._hint_key)
        body = self._read_chunked() if chunked else self._read_exact(length)
        if close:
            self.close()
        return status, body, interval_ms

    def _fill(self) -> None:
        assert self._sock is not None
        io = self._io
        data = self._sock.recv(RECV_BYTES) if io is None else io.recv(RECV_BYTES)
        if not data:
            raise ConnectionResetError("server closed the connection")
        self._answered = True
        self._buf += data

    def _read_head(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                head, self._buf = self._buf[:end], self._buf[end + 4 :]
                return head
            if len(self._buf) > RECV_BYTES:
                raise HTTPProtocolError("response head too large")
            self._fill()

    def _read_exact(self, length: int) -> bytes:
        while len(self._buf) < length:
            self._fill()
        body, self._buf = self._buf[:length], self._buf[length:]
        return body

    def _read_line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            self._fill()
        line, self._buf = self._buf[:end], self._buf[end + 2 :]
        return line

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():  # trailers, then the blank line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(size))
            self._read_line()


def _parse_head(
    head: bytes, hint_key: bytes = b"x-poll-interval-ms"
) -> tuple[int, int, bool, bool, int | None]:
    """(status, content length, chunked, connection close, hint header) of a head.

    Looks the four headers up in the lower-cased head (C-speed ``find``) rather than
    splitting it into lines: a poll answer's head has 5-8 headers and this runs for
    every answer. A header named twice counts by its first line.
    """
    end = head.find(b"\r\n")
    parts = (head if end < 0 else head[:end]).split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HTTPProtocolError(f"bad status line {head[:80]!r}")
    status = int(parts[1])
    low = head.lower()
    length = _header(low, b"\r\ncontent-length:")
    encoding = _header(low, b"\r\ntransfer-encoding:")
    connection = _header(low, b"\r\nconnection:")
    hint = _header(low, b"\r\n" + hint_key + b":")
    close = parts[0] == b"HTTP/1.0" if connection is None else connection == b"close"
    interval_ms = None
    if hint is not None:
        try:
            interval_ms = int(hint)
        except ValueError:
            interval_ms = None  # not a number: no hint (the probe names the mismatch)
    return (status, 0 if length is None else int(length),
            encoding is not None and b"chunked" in encoding, close, interval_ms)


def _header(low_head: bytes, key: bytes) -> bytes | None:
    """The stripped value of the header line starting with ``key`` (``\\r\\nname:``)."""
    start = low_head.find(key)
    if start < 0:
        return None
    start += len(key)
    stop = low_head.find(b"\r\n", start)
    return (low_head[start:] if stop < 0 else low_head[start:stop]).strip()
