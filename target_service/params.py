"""Hand-parsed parameters of the poll route, with FastAPI-style 422 errors.

The poll is the route every client hits every few seconds; FastAPI's generic parameter
machinery (pydantic per parameter, multidict lookups) costs more than the cached poll
itself, so this route validates its three parameters here. Errors go through the same
handler as FastAPI's (``RequestValidationError`` -> 422 with a message).
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError

CHANNEL_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
AFTER_PATTERN = r"^[0-9]{1,18}$"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_CHANNEL = re.compile(CHANNEL_PATTERN)
_AFTER = re.compile(AFTER_PATTERN)


def invalid(where: str, name: str, message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, name), "msg": message, "input": value}]
    )


def poll_params(request: Request) -> tuple[str, int | None, int]:
    """``(channel_id, after, limit)`` of a poll; raises a 422 error for bad values."""
    channel_id: str = request.path_params["channel_id"]
    if not _CHANNEL.match(channel_id):
        raise invalid("path", "channel_id", f"must match {CHANNEL_PATTERN}", channel_id)
    after: int | None = None
    limit = DEFAULT_LIMIT
    query: bytes = request.scope.get("query_string", b"")
    if query:
        for part in query.split(b"&"):
            key, _, raw = part.partition(b"=")
            if key == b"after":
                value = raw.decode("latin-1")
                if not _AFTER.match(value):
                    raise invalid("query", "after", "must be a message id (1-18 digits)", value)
                after = int(value)
            elif key == b"limit":
                value = raw.decode("latin-1")
                if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
                    raise invalid("query", "limit", f"must be an integer 1..{MAX_LIMIT}", value)
                limit = int(value)
    return channel_id, after, limit
