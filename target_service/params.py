"""Parameter rules: the hand-parsed poll parameters, and the text rules of every body.

The poll is the route every client hits every few seconds; FastAPI's generic parameter
machinery (pydantic per parameter, multidict lookups) costs more than the cached poll
itself, so this route validates its three parameters here. Errors go through the same
handler as FastAPI's (``RequestValidationError`` -> 422 with a message).

``after`` may be empty (``?after=``): the design's ChatRoom sends its first poll that
way (``lastMessageId.current || ''``), and it means "no cursor", like no ``after``.

:data:`Text` is ``str`` without NUL: PostgreSQL cannot store NUL in ``text``, so a
body field holding one is a 422 at the door, not a 500 from the database.
:data:`NonBlankText` also needs a character other than whitespace. Each carries the
JSON-schema ``pattern`` that says the same, so the OpenAPI document and the validator
agree on every string (a fuzzer holds them to it).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BeforeValidator, Field

CHANNEL_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
AFTER_PATTERN = r"^([0-9]{1,18})?$"  # empty: no cursor
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"  # visible ASCII, as the IETF draft's examples
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_CHANNEL = re.compile(CHANNEL_PATTERN)
_AFTER = re.compile(AFTER_PATTERN)


NO_NUL_PATTERN = "^[^\\u0000]*$"
NON_BLANK_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})]
def whole_float_to_int(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


MAX_ID = 2**53 - 1
"""Ids fit PostgreSQL BIGINT (a larger one was a 500 from asyncpg) and stay exact as JSON
numbers for JavaScript clients and schema tools that read numbers as doubles."""
JsonInt = Annotated[int, BeforeValidator(whole_float_to_int)]
"""An integer as JSON Schema counts one: ``1.0`` is 1; ``"1"`` and ``true`` are not (strict)."""
NonBlankText = Annotated[str, AfterValidator(_no_nul), AfterValidator(_not_blank),
                         Field(json_schema_extra={"pattern": NON_BLANK_PATTERN})]


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
                after = int(value) if value else None
            elif key == b"limit":
                value = raw.decode("latin-1")
                if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
                    raise invalid("query", "limit", f"must be an integer 1..{MAX_LIMIT}", value)
                limit = int(value)
    return channel_id, after, limit
