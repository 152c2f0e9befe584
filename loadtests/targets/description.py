"""Target descriptions: how pollcap's simulated tab speaks to *your* polling API.

A description is a short TOML file (see ``reference.toml`` beside this module, the
reference service's own, and ``examples/offset_chat.toml``). It states how a tab signs
up and presents its token, how it polls a channel (path, cursor, where the messages
and their fields are), how it sends, and optionally notifications and push URLs.

This module only *reads and checks* a description into the typed, frozen objects of
:mod:`loadtests.targets.specs`; every mistake is a
:class:`~target_service.errors.UserError` naming the file and the key, so the CLI
shows one line and exits 2. :mod:`loadtests.targets.compiled` turns the result
into the request strings and field getters of the lean poll path.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from loadtests.targets.specs import (
    CREATED_AT_FORMATS,
    METHODS,
    AuthSpec,
    CreatedAtFormat,
    NotificationsSpec,
    PollSpec,
    PushSpec,
    RequestSpec,
    TargetDescription,
)
from target_service.errors import UserError

# The specs are re-exported: callers import them from here with load_description
__all__ = ["CREATED_AT_FORMATS", "METHODS", "REFERENCE_PATH", "AuthSpec", "CreatedAtFormat",
           "NotificationsSpec", "PollSpec", "PushSpec", "RequestSpec", "TargetDescription",
           "load_description"]
REFERENCE_PATH = Path(__file__).with_name("reference.toml")


class _Reader:
    """Typed access to one TOML table with errors that name the file and the key."""

    def __init__(
        self, data: dict[str, Any], *, where: str, source: Path, known: tuple[str, ...]
    ) -> None:
        self.data, self.where, self.source = data, where, source
        unknown = set(data) - set(known)
        if unknown:
            raise self.error(f"unknown key(s) {', '.join(sorted(unknown))}")

    def error(self, message: str) -> UserError:
        return UserError(f"target description {self.source}: [{self.where}] {message}")

    def text(self, key: str, default: str | None = None, *, required: bool = True) -> str:
        value = self.data.get(key, default)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value:
            raise self.error(f"'{key}' must be a non-empty string")
        return value

    def optional(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(f"'{key}' must be a non-empty string when given")
        return value

    def table(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.error(f"'{key}' must be a table")
        return value


REQUEST_KEYS = ("method", "path", "body", "headers", "expect_status")


def _request(data: Any, *, where: str, source: Path, placeholders: set[str]) -> RequestSpec:
    if not isinstance(data, dict):
        raise UserError(f"target description {source}: [{where}] must be a table")
    r = _Reader(data, where=where, source=source, known=REQUEST_KEYS + ("list", "id",
                                                                          "created_at",
                                                                          "created_at_format"))
    method = r.text("method", "GET").upper()
    if method not in METHODS:
        raise r.error(f"method {method!r} is not one of {', '.join(METHODS)}")
    path = r.text("path")
    if not path.startswith("/"):
        raise r.error(f"path {path!r} must start with '/' (the host comes from --host)")
    _check_placeholders(path, placeholders, r)
    headers = data.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise r.error("'headers' must be a table of strings")
    status = data.get("expect_status", [200, 201])
    statuses = (status,) if isinstance(status, int) else tuple(status)
    if not statuses or not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
        raise r.error("'expect_status' must be an HTTP status or a list of them")
    return RequestSpec(method=method, path=path, body=data.get("body"), headers=dict(headers),
                       expect_status=statuses)


def _check_placeholders(template: str, allowed: set[str], r: _Reader) -> None:
    import string

    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in allowed:
            raise r.error(f"placeholder {{{name}}} in {template!r} is not one of "
                          f"{', '.join('{' + a + '}' for a in sorted(allowed))}")


def _auth(data: dict[str, Any], source: Path) -> AuthSpec:
    r = _Reader(data, where="auth", source=source,
                known=("signup", "token", "user_id", "header", "query", "cookie", "tokens_file"))
    ways = [k for k in ("header", "query", "cookie") if data.get(k)]
    if len(ways) != 1:
        raise r.error("give exactly one of 'header' (e.g. \"Authorization: Bearer {token}\"), "
                      "'query' (a parameter name) or 'cookie' (a cookie name)")
    header = r.optional("header")
    if header is not None and (":" not in header or "{token}" not in header):
        raise r.error("'header' must look like \"Name: ... {token} ...\"")
    tokens_file = r.optional("tokens_file")
    signup = data.get("signup")
    if signup is None and tokens_file is None:
        raise r.error("give 'signup' (a request) or 'tokens_file' (one token per line)")
    return AuthSpec(
        signup=None if signup is None else _request(signup, where="auth.signup", source=source,
                                                    placeholders={"name"}),
        token_path=r.text("token", "token"),
        user_id_path=r.optional("user_id"),
        header=header,
        query=r.optional("query"),
        cookie=r.optional("cookie"),
        tokens_file=None if tokens_file is None else (source.parent / tokens_file),
    )


POLL_KEYS = REQUEST_KEYS + (
    "cursor_param", "cursor_from", "cursor_start", "limit_param", "messages", "id", "seq",
    "created_at", "created_at_format", "created_at_trusted", "content", "active_users",
    "interval_hint",
)


def _where_field(r: _Reader, key: str) -> str | None:
    value = r.optional(key)
    if value is not None and not value.startswith(("answer.", "header.")):
        raise r.error(f"'{key}' must start with 'answer.' or 'header.' (got {value!r})")
    return value


def _format(r: _Reader, key: str) -> CreatedAtFormat:
    value = r.text(key, "epoch_ms")
    if value not in CREATED_AT_FORMATS:
        raise r.error(f"'{key}' {value!r} is not one of {', '.join(CREATED_AT_FORMATS)}")
    return value  # type: ignore[return-value]


def _poll(data: dict[str, Any], source: Path) -> PollSpec:
    r = _Reader(data, where="poll", source=source, known=POLL_KEYS)
    request = _request({k: v for k, v in data.items() if k in REQUEST_KEYS}, where="poll",
                       source=source, placeholders={"channel"})
    cursor_from = r.text("cursor_from", "message.id")
    if not cursor_from.startswith(("message.", "answer.")):
        raise r.error(f"'cursor_from' must start with 'message.' or 'answer.' "
                      f"(got {cursor_from!r})")
    trusted = data.get("created_at_trusted", False)
    if not isinstance(trusted, bool):
        raise r.error("'created_at_trusted' must be true or false")
    start = data.get("cursor_start")
    return PollSpec(
        request=request,
        cursor_param=r.text("cursor_param", "after"),
        cursor_from=cursor_from,
        cursor_start=None if start is None else str(start),
        limit_param=r.optional("limit_param"),
        messages_path=r.text("messages", "messages"),
        id_field=r.text("id", "id"),
        seq_field=r.optional("seq"),
        created_at_field=r.text("created_at", "createdAt"),
        created_at_format=_format(r, "created_at_format"),
        created_at_trusted=trusted,
        content_field=r.text("content", "content"),
        active_users=_where_field(r, "active_users"),
        interval_hint=_where_field(r, "interval_hint"),
    )


def _notifications(data: dict[str, Any], source: Path) -> NotificationsSpec:
    r = _Reader(data, where="notifications", source=source,
                known=("unread", "mark_read", "create"))
    unread_data = r.table("unread")
    if unread_data is None:
        raise r.error("'unread' (the unread-notifications poll) is required")
    u = _Reader(unread_data, where="notifications.unread", source=source,
                known=REQUEST_KEYS + ("list", "id", "created_at", "created_at_format"))
    mark, create = r.table("mark_read"), r.table("create")
    return NotificationsSpec(
        unread=_request(unread_data, where="notifications.unread", source=source,
                        placeholders=set()),
        list_path=u.text("list", "notifications"),
        id_field=u.text("id", "id"),
        created_at_field=u.text("created_at", "createdAt"),
        created_at_format=_format(u, "created_at_format"),
        mark_read=None if mark is None else _request(
            mark, where="notifications.mark_read", source=source, placeholders=set()),
        create=None if create is None else _request(
            create, where="notifications.create", source=source, placeholders=set()),
    )


def load_description(path: Path | str | None = None) -> TargetDescription:
    """Read and check a description; ``None`` means the reference service's own."""
    source = REFERENCE_PATH if path is None else Path(path)
    try:
        data = tomllib.loads(source.read_text())
    except FileNotFoundError:
        raise UserError(f"target description {source}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"target description {source}: not valid TOML ({exc})") from None
    top = _Reader(data, where="top", source=source,
                  known=("name", "auth", "poll", "send", "notifications", "push"))
    for key in ("auth", "poll", "send"):
        if top.table(key) is None:
            raise top.error(f"the [{key}] table is required")
    notes, push = top.table("notifications"), top.table("push")
    push_reader = None if push is None else _Reader(push, where="push", source=source,
                                                    known=("websocket", "sse"))
    return TargetDescription(
        name=str(data.get("name", source.stem)),
        source=source,
        auth=_auth(data["auth"], source),
        poll=_poll(data["poll"], source),
        send=_request(data["send"], where="send", source=source, placeholders={"channel"}),
        notifications=None if notes is None else _notifications(notes, source),
        push=None if push_reader is None else PushSpec(
            websocket_path=push_reader.optional("websocket"), sse_path=push_reader.optional("sse")),
    )
