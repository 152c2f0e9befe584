"""A target description compiled once into what the hot path needs: strings and getters.

Polls are thousands per second per Locust process, so nothing here is looked up per
request: path prefixes, the auth query suffix and the field getters are built when a
tab starts, and a poll costs one string join and one ``orjson.loads``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from loadtests.targets.description import (
    CreatedAtFormat,
    RequestSpec,
    TargetDescription,
    load_description,
)

Getter = Callable[[Any], Any]


def getter(path: str) -> Getter:
    """``a.b.c`` -> a function returning ``obj["a"]["b"]["c"]``, or None when any is missing."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda obj: obj.get(key) if isinstance(obj, dict) else None

    def get(obj: Any) -> Any:
        for part in parts:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(part)
        return obj

    return get


def created_at_ms(fmt: CreatedAtFormat) -> Callable[[Any], float]:
    """A converter of the described created-at format to epoch milliseconds."""
    if fmt == "epoch_ms":
        return float
    if fmt == "epoch_s":
        return lambda value: float(value) * 1000.0

    def iso(value: Any) -> float:
        text = str(value)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text).timestamp() * 1000.0

    return iso


def fill(template: Any, values: dict[str, Any]) -> Any:
    """Fill a body template: ``"{x}"`` alone becomes the raw value, other strings format."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format_map(values) if "{" in template else template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    expect_status: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-up tab: its token, user id (when the answer has one) and auth strings."""

    token: str
    user_id: Any
    headers: dict[str, str]
    query: str  # "" or "name=value" to append to every path


@dataclass(slots=True)
class PollAnswer:
    messages: list[dict[str, Any]]
    next_cursor: str | None
    active_users: int | None
    interval_ms: int | None


class CompiledTarget:
    """Requests and answers of one described target (see the module docstring)."""

    def __init__(self, description: TargetDescription) -> None:
        self.description = d = description
        poll = d.poll
        self.poll_prefix, _, self.poll_suffix = poll.request.path.partition("{channel}")
        self.messages = getter(poll.messages_path)
        self.message_id = operator.itemgetter(poll.id_field)
        self.seq = None if poll.seq_field is None else operator.itemgetter(poll.seq_field)
        self.created_at = getter(poll.created_at_field)
        self.to_ms = created_at_ms(poll.created_at_format)
        self.content = getter(poll.content_field)
        self.cursor_from_message = poll.cursor_from.startswith("message.")
        self.cursor = getter(poll.cursor_from.split(".", 1)[1])
        self.active_users = _answer_or_header(poll.active_users)
        self.interval_hint = _answer_or_header(poll.interval_hint)
        hint = poll.interval_hint or ""
        self.interval_header = hint[len("header."):] if hint.startswith("header.") else None
        self.has_seq = poll.seq_field is not None
        self.trusted_time = poll.created_at_trusted
        # Senders put send markers in the content unless seq and created-at say it all.
        self.use_markers = not self.has_seq or not self.trusted_time
        self.cursor_start = poll.cursor_start
        self.page_limited = poll.limit_param is not None
        notes = d.notifications
        self.note_id_field = "id" if notes is None else notes.id_field
        self._note_created = getter("createdAt" if notes is None else notes.created_at_field)
        self._note_to_ms = created_at_ms("epoch_ms" if notes is None else notes.created_at_format)

    # -- auth --------------------------------------------------------------------------

    def signup_request(self, *, name: str) -> Request | None:
        spec = self.description.auth.signup
        return None if spec is None else _request(spec, {"name": name})

    def session(self, *, answer: bytes | None = None, token: str | None = None) -> Session:
        """The tab's session from its sign-up answer (or a ready token)."""
        auth = self.description.auth
        user_id: Any = None
        if token is None:
            data = orjson.loads(answer or b"{}")
            found = getter(auth.token_path)(data)
            if not isinstance(found, str | int) or found == "":
                raise KeyError(f"no token at '{auth.token_path}' in the sign-up answer")
            token = str(found)
            if auth.user_id_path is not None:
                user_id = getter(auth.user_id_path)(data)
        headers: dict[str, str] = {}
        query = ""
        if auth.header is not None:
            name, _, value = auth.header.partition(":")
            headers[name.strip()] = value.strip().format(token=token)
        elif auth.query is not None:
            query = f"{quote(auth.query)}={quote(token, safe='')}"
        elif auth.cookie is not None:
            headers["Cookie"] = f"{auth.cookie}={token}"
        return Session(token=token, user_id=user_id, headers=headers, query=query)

    def ready_tokens(self) -> list[str]:
        path = self.description.auth.tokens_file
        if path is None:
            return []
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    # -- polling -----------------------------------------------------------------------

    def poll_base(self, *, channel: str, limit: int | None, session: Session) -> str:
        """The poll path without a cursor, ending in ``?`` or ``&`` ready for one."""
        poll = self.description.poll
        params = []
        if poll.limit_param is not None and limit is not None:
            params.append(f"{poll.limit_param}={limit}")
        if session.query:
            params.append(session.query)
        sep = "&" if "?" in self.poll_suffix else "?"
        base = f"{self.poll_prefix}{quote(channel, safe='')}{self.poll_suffix}"
        return base + (sep + "&".join(params) if params else "")

    def poll_path(self, base: str, cursor: str | None) -> str:
        if cursor is None:
            return base
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}{self.description.poll.cursor_param}={quote(cursor, safe='')}"

    def parse_poll(
        self, body: bytes, *, interval_header: int | None = None, hints: bool = True
    ) -> PollAnswer:
        """Messages, next cursor and hints of one poll answer (KeyError/TypeError if off).

        ``hints=False`` skips active users and the interval hint (a fixed client policy).
        """
        data = orjson.loads(body)
        messages = self.messages(data)
        if messages.__class__ is not list:
            raise KeyError(f"no message list at '{self.description.poll.messages_path}'")
        if self.cursor_from_message:
            cursor = self.cursor(messages[-1]) if messages else None
        else:
            cursor = self.cursor(data)
        if cursor is not None and cursor.__class__ is not str:
            cursor = str(cursor)
        if not hints:
            return PollAnswer(messages, cursor, None, None)
        active = self.active_users(data) if self.active_users else None
        hint = interval_header if self.interval_header else (
            self.interval_hint(data) if self.interval_hint else None)
        return PollAnswer(messages, cursor, None if active is None else int(active),
                          None if hint is None else int(hint))

    def created_ms(self, message: dict[str, Any]) -> float:
        return self.to_ms(self.created_at(message))

    def note_created_ms(self, note: dict[str, Any]) -> float:
        return self._note_to_ms(self._note_created(note))

    # -- sending and notifications ------------------------------------------------------

    def send_request(self, *, channel: str, content: str, session: Session) -> Request:
        return _request(self.description.send, {"channel": channel, "content": content},
                        session=session)

    def request(self, spec: RequestSpec, values: dict[str, Any], *,
                session: Session | None = None) -> Request:
        return _request(spec, values, session=session)


def _answer_or_header(where: str | None) -> Getter | None:
    if where is None or where.startswith("header."):
        return None
    return getter(where[len("answer."):])


def _request(spec: RequestSpec, values: dict[str, Any], *,
             session: Session | None = None) -> Request:
    path = spec.path.format_map({k: quote(str(v), safe="") for k, v in values.items()})
    headers = {k: v.format_map(values) for k, v in spec.headers.items()}
    if session is not None:
        headers.update(session.headers)
        if session.query:
            path += ("&" if "?" in path else "?") + session.query
    body = None
    if spec.body is not None:
        body = orjson.dumps(fill(spec.body, values))
        headers.setdefault("Content-Type", "application/json")
    return Request(method=spec.method, path=path, body=body, headers=headers,
                   expect_status=spec.expect_status)


@functools.cache
def reference_target() -> CompiledTarget:
    """The reference service's description, compiled once per process."""
    return CompiledTarget(load_description(None))


def compile_target(path: str | None = None) -> CompiledTarget:
    """Load and compile a description; ``None`` (or "") is the reference service's own."""
    return CompiledTarget(load_description(path)) if path else reference_target()
