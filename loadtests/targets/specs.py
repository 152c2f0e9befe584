"""What a target description says, as typed, frozen objects (read by :mod:`.description`).

A description (``reference.toml``, ``examples/offset_chat.toml``) becomes one
:class:`TargetDescription`: how a tab signs up and presents its token (:class:`AuthSpec`),
how it polls a channel and where each field of the answer is (:class:`PollSpec`), how it
sends (:class:`RequestSpec`), and optionally notifications and push URLs. Paths into an
answer are dotted (``"data.items"``); a request's templates hold ``{placeholders}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CreatedAtFormat = Literal["epoch_ms", "epoch_s", "iso8601"]
CREATED_AT_FORMATS: tuple[str, ...] = ("epoch_ms", "epoch_s", "iso8601")
METHODS = ("GET", "POST", "PUT", "PATCH")


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request: method, a path template (``{channel}`` and friends), a JSON body template.

    Body templates are TOML tables whose string values may hold placeholders such as
    ``{name}`` or ``{content}``; a value that is exactly one placeholder (``"{ids}"``) is
    replaced by the raw value (a list stays a list), so bodies are always valid JSON.
    """

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: tuple[int, ...] = (200, 201)


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """Sign-up and token presentation (exactly one of header, query, cookie)."""

    signup: RequestSpec | None
    token_path: str
    user_id_path: str | None
    header: str | None
    query: str | None
    cookie: str | None
    tokens_file: Path | None


@dataclass(frozen=True, slots=True)
class PollSpec:
    """The poll route and where each field of its answer is."""

    request: RequestSpec
    cursor_param: str
    cursor_from: str  # "message.<field>" of the last message, or "answer.<dotted path>"
    cursor_start: str | None  # the cursor to send when the first answer is empty
    limit_param: str | None
    messages_path: str
    id_field: str
    seq_field: str | None
    created_at_field: str
    created_at_format: CreatedAtFormat
    created_at_trusted: bool
    content_field: str
    active_users: str | None  # "answer.<path>" or "header.<Name>"
    interval_hint: str | None


@dataclass(frozen=True, slots=True)
class NotificationsSpec:
    unread: RequestSpec
    list_path: str
    id_field: str
    created_at_field: str
    created_at_format: CreatedAtFormat
    mark_read: RequestSpec | None
    create: RequestSpec | None


@dataclass(frozen=True, slots=True)
class PushSpec:
    websocket_path: str | None
    sse_path: str | None


@dataclass(frozen=True, slots=True)
class TargetDescription:
    name: str
    source: Path
    auth: AuthSpec
    poll: PollSpec
    send: RequestSpec
    notifications: NotificationsSpec | None
    push: PushSpec | None
