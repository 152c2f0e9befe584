"""``ZRANGE key a b WITHSCORES`` pages read as raw RESP and parsed by numpy and Arrow.

Why not redis-py: without hiredis it builds a Python bytes object for every member
and every score (2M objects for 1M samples, ~6 s here), and the earlier Lua page
builder (member and score joined server-side into ``member:score`` lines) made
Valkey's single thread the bottleneck (~1.2 s of server time per 1M samples).
Here the server only runs the plain ZRANGE (~0.3 s per 1M, measured with a raw
socket) and the reply bytes themselves become CSV: a RESP2 reply is four lines per
sample (``$len``, member, ``$len``, score), so turning the first three ``\\r\\n``
of each group into ``::`` (two bytes for two, in place, one numpy pass) leaves
one ``$len::member::$len::score`` row per sample for Arrow's C++ reader, which
keeps only the member fields and the score.

Members are ours: ASCII, colon-separated, never a newline (``keys.MEMBER_FIELDS``).
The pages go over a RESP2 connection of their own (:func:`raw_connection`), whatever
protocol the client speaks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import redis

IN_FLIGHT = 2  # page requests outstanding while one is parsed
RECV_BYTES = 1 << 22
_NL, _COLON = 10, 58
_HEAD = ["_len1", "_gap1"]  # the member's $len line, then the emptied \r\n
_TAIL = ["_gap2", "_len2", "_gap3", "t_ms"]  # ..., the score's $len line, the score


class NotRaw(Exception):
    """This connection cannot be read raw (RESP3): use redis-py's parser."""


class _Stream:
    """Bytes off one socket, handed out a line count at a time."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _recv(self) -> None:
        chunk = self.sock.recv(RECV_BYTES)
        if not chunk:
            raise redis.ConnectionError("Redis closed the connection mid-reply")
        self.buf += chunk

    def take_lines(self, n: int) -> bytearray:
        """The next ``n`` lines (through the n-th ``\\n``), removed from the stream."""
        counted = scanned = 0
        while True:
            found = self.buf.count(b"\n", scanned)
            if counted + found >= n:
                tail = np.frombuffer(memoryview(self.buf)[scanned:], dtype=np.uint8)
                end = scanned + int(np.flatnonzero(tail == _NL)[n - counted - 1]) + 1
                del tail  # release the buffer export before resizing
                out = self.buf[:end]
                del self.buf[:end]
                return out
            counted, scanned = counted + found, len(self.buf)
            self._recv()

    def reply(self) -> bytearray:
        """One ZRANGE WITHSCORES reply without its ``*N`` header (raises error replies)."""
        head = bytes(self.take_lines(1))
        if head.startswith(b"-"):
            raise redis.ResponseError(head[1:].strip().decode(errors="replace"))
        if not head.startswith(b"*"):
            raise redis.ResponseError(f"unexpected reply to ZRANGE: {head[:40]!r}")
        items = int(head[1:])
        return self.take_lines(2 * items) if items > 0 else bytearray()


def raw_connection(client: redis.Redis) -> Any:
    """A fresh connection like the client's (auth, db, TLS) but speaking RESP2, whose
    WITHSCORES replies are the four-line groups parsed here (redis-py 8 defaults to
    RESP3: pairs as arrays, scores as doubles). Raises :class:`NotRaw` when the socket
    is not reachable as such."""
    pool = client.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items()
              if not k.startswith("maint_notifications")}  # RESP3-only (redis-py 8)
    conn: Any = pool.connection_class(**{**kwargs, "protocol": 2})
    conn.connect()
    if getattr(conn, "_sock", None) is None:
        conn.disconnect()
        raise NotRaw()
    return conn


def stream_pages(
    client: redis.Redis, *, key: str, pages: list[tuple[int, int]]
) -> Iterator[bytearray]:
    """Each rank page's raw reply body as it arrives, while Redis builds the next.

    A thread keeps ``IN_FLIGHT`` requests outstanding on one connection (socket reads
    release the GIL), so on two cores the server and the parser each get one. Not all
    at once: the server runs every command it has read before it writes any reply.
    """
    replies: queue.Queue[Any] = queue.Queue()
    conn = raw_connection(client)

    def fetch() -> None:
        try:
            stream = _Stream(conn._sock)
            packed = [b"".join(conn.pack_command("ZRANGE", key, a, b, "WITHSCORES"))
                      for a, b in pages]
            for request in packed[:IN_FLIGHT]:
                conn.send_packed_command([request])
            for i in range(len(packed)):
                replies.put(stream.reply())
                if i + IN_FLIGHT < len(packed):
                    conn.send_packed_command([packed[i + IN_FLIGHT]])
        except BaseException as exc:  # handed to the reader, which raises it
            replies.put(exc)
        finally:
            conn.disconnect()  # our own connection, read past redis-py's parser

    thread = threading.Thread(target=fetch, name="pollcap-samples", daemon=True)
    thread.start()
    try:
        for _ in pages:
            reply = replies.get()
            if isinstance(reply, BaseException):
                raise reply
            yield reply
    finally:
        thread.join()


def page_table(body: bytearray, *, fields: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """One reply body (four lines per sample) as a table of the member ``fields`` and
    ``t_ms`` (the score); ``body`` is rewritten in place."""
    if not body:
        return pa.table({c: pa.array([], type=types[c]) for c in [*fields, "t_ms"]})
    data = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(data == _NL)
    if ends.size % 4:
        raise redis.ResponseError("malformed ZRANGE WITHSCORES reply (not 4 lines per sample)")
    joins = ends.reshape(-1, 4)[:, :3].ravel()
    data[joins] = _COLON
    data[joins - 1] = _COLON  # the \r before each joined \n
    names = [*_HEAD, *fields, *_TAIL]
    wanted = [*fields, "t_ms"]
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(data)),
        read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(body), 1 << 20),
                                       use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=":", quote_char=False, double_quote=False, escape_char=False
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=wanted, column_types={c: types[c] for c in wanted}
        ),
    )
