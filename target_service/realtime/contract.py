"""The push transports' contract (issue 10): paths, close codes, limits, frame shapes.

Clients (loadtests/clients/providers/, the demo page) are written against exactly these
names; change them here and in the README together.

Close codes of ``/api/realtime/ws``:

* ``4401``: missing or unknown token (sent right after the handshake);
* ``1009``: a frame over :data:`WS_MAX_FRAME_BYTES` (uvicorn's ``--ws-max-size``, and
  checked again here for servers started without it);
* ``4409``: *resume*: the server gave up on this connection (its control-frame outbox
  overflowed: the client stopped reading). Reconnect and subscribe with ``after`` = the
  last seq received; nothing is lost. A subscriber that merely falls behind on messages
  is never closed: it is caught up by cursor from the cache or PostgreSQL.
"""

from __future__ import annotations

import re

import orjson

from target_service.params import AFTER_PATTERN, CHANNEL_PATTERN
from target_service.store.messages import Message

WS_PATH = "/api/realtime/ws"
SSE_PATH = "/api/realtime/sse"
CLOSE_BAD_TOKEN = 4401
CLOSE_TOO_BIG = 1009
CLOSE_RESUME = 4409
WS_MAX_FRAME_BYTES = 64 * 1024
WS_PING_INTERVAL_S = 20.0  # uvicorn pings every connection; no pong within the timeout: dropped
WS_PING_TIMEOUT_S = 20.0
MAX_SUBSCRIPTIONS = 100  # channels per connection
OUTBOX_MAX_FRAMES = 1000  # control frames (ack, pong, error, notification) awaiting the client
LONGPOLL_MAX_WAIT_MS = 30_000
MAX_CONTENT_CHARS = 4000  # as MessageIn
MAX_REF_CHARS = 200

CHANNEL_RE = re.compile(CHANNEL_PATTERN)
AFTER_RE = re.compile(AFTER_PATTERN)


def message_frame(channel_id: str, message: Message) -> bytes:
    """``{"op":"message","channel":C,"message":M}``; M is the poll answer's message JSON."""
    return b'{"op":"message","channel":"%b","message":%b}' % (channel_id.encode(), message.json)


def ack_frame(ref: str, message: Message) -> bytes:
    return b'{"op":"ack","ref":%b,"message":%b}' % (orjson.dumps(ref), message.json)


def error_frame(ref: str | None, detail: str) -> bytes:
    return orjson.dumps({"op": "error", "ref": ref, "detail": detail})


def subscribed_frame(channel_id: str, *, latest: int, active_users: int) -> bytes:
    return orjson.dumps({"op": "subscribed", "channel": channel_id, "latest": latest,
                         "activeUsers": active_users})


def notification_frame(notification_json: bytes) -> bytes:
    return b'{"op":"notification","notification":%b}' % notification_json


PONG_FRAME = b'{"op":"pong"}'


def sse_event(message: Message) -> bytes:
    return b"id: %d\nevent: message\ndata: %b\n\n" % (message.seq, message.json)


SSE_HEARTBEAT = b": heartbeat\n\n"
