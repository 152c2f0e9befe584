"""Target descriptions: reading, checking, compiling (pure; no service)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from loadtests.targets.compiled import CompiledTarget, compile_target, created_at_ms, fill
from loadtests.targets.description import REFERENCE_PATH, load_description
from target_service.errors import UserError

EXAMPLE = Path("loadtests/targets/examples/offset_chat.toml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(text)
    return path


MINIMAL = """
[auth]
signup = { path = "/s", method = "POST", body = { n = "{name}" } }
header = "Authorization: Bearer {token}"
[poll]
path = "/c/{channel}"
[send]
method = "POST"
path = "/c/{channel}"
body = { text = "{content}" }
"""


def test_the_reference_description_is_the_default() -> None:
    description = load_description()
    assert description.source == REFERENCE_PATH
    assert description.poll.seq_field == "seq"
    assert description.poll.interval_hint == "header.X-Poll-Interval-Ms"
    assert description.notifications is not None and description.push is not None


def test_reference_paths_and_auth_compile_to_the_reference_api() -> None:
    target = compile_target()
    session = target.session(answer=b'{"id": 7, "token": "abc"}')
    assert session.headers == {"Authorization": "Bearer abc"} and session.user_id == 7
    base = target.poll_base(channel="room-1", limit=50, session=session)
    assert base == "/api/chat/room-1/messages?limit=50"
    assert target.poll_path(base, "12") == "/api/chat/room-1/messages?limit=50&after=12"
    send = target.send_request(channel="room-1", content='say "hi"', session=session)
    assert (send.method, send.path) == ("POST", "/api/chat/room-1/messages")
    assert orjson.loads(send.body or b"") == {"content": 'say "hi"'}


def test_reference_answers_parse_with_cursor_and_hints() -> None:
    target = compile_target()
    body = orjson.dumps({"messages": [{"id": 3, "seq": 3, "createdAt": 1000, "content": "x"}],
                         "activeUsers": 4, "pollIntervalMs": 2000})
    answer = target.parse_poll(body, interval_header=1500)
    assert answer.next_cursor == "3" and answer.active_users == 4 and answer.interval_ms == 1500
    assert target.created_ms(answer.messages[0]) == 1000.0


def test_example_answers_parse_offset_cursor_query_token_and_iso_times() -> None:
    target = compile_target(str(EXAMPLE))
    session = target.session(answer=b'{"session": {"key": "k/1"}}')
    assert session.headers == {} and session.query == "key=k%2F1"
    base = target.poll_base(channel="r", limit=20, session=session)
    assert target.poll_path(base, "5") == "/rooms/r/feed?max=20&key=k%2F1&from=5"
    body = b'{"items": [{"uid": "m-1", "text": "t", "at": "2026-12-01T09:00:00.250Z"}], "next": 6}'
    answer = target.parse_poll(body)
    assert answer.next_cursor == "6" and answer.active_users is None
    assert target.created_ms(answer.messages[0]) == 1796115600250.0


def test_created_at_formats() -> None:
    assert created_at_ms("epoch_s")(1.5) == 1500.0
    assert created_at_ms("epoch_ms")(1500) == 1500.0
    assert created_at_ms("iso8601")("1970-01-01T00:00:01+00:00") == 1000.0


def test_body_templates_keep_json_types() -> None:
    template = {"ids": "{ids}", "title": "for {name}", "n": 1}
    assert fill(template, {"ids": [1, 2], "name": "ann"}) == {"ids": [1, 2], "title": "for ann",
                                                               "n": 1}


def test_a_minimal_description_takes_defaults(tmp_path: Path) -> None:
    target = CompiledTarget(load_description(write(tmp_path, MINIMAL)))
    assert target.description.poll.cursor_param == "after"
    assert target.description.poll.cursor_from == "message.id"
    assert target.description.notifications is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[poll]", "[poll]\nbogus = 1"), r"\[poll\] unknown key\(s\) bogus"),
        (('path = "/c/{channel}"\n[send]', 'path = "/c/{room}"\n[send]'),
         r"placeholder \{room\}"),
        (('header = "Authorization: Bearer {token}"', 'header = "Bearer"'), r"\[auth\] 'header'"),
        (('header = "Authorization: Bearer {token}"', ""), "exactly one of"),
        (("[poll]", '[poll]\ncreated_at_format = "rfc822"'), "rfc822"),
        (("[poll]", '[poll]\ncursor_from = "id"'), "cursor_from"),
        (("[poll]", '[poll]\nactive_users = "users"'), "active_users"),
        (('path = "/s"', 'path = "s"'), "must start with '/'"),
        (('method = "POST"\npath = "/c', 'method = "FETCH"\npath = "/c'), "FETCH"),
        (("[send]", "[sendx]"), r"unknown key\(s\) sendx"),
    ],
)
def test_broken_descriptions_name_the_file_and_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, MINIMAL.replace(*change, 1))
    with pytest.raises(UserError, match=message) as info:
        load_description(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_and_invalid_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        load_description(tmp_path / "nope.toml")
    with pytest.raises(UserError, match="not valid TOML"):
        load_description(write(tmp_path, "[auth\n"))


def test_the_readme_example_description_is_a_valid_description(tmp_path: Path) -> None:
    """The commented description in README's "Test your own service" loads and compiles."""
    import re

    readme = Path("README.md").read_text()
    block = re.search(r"```toml\n(# mychat\.toml.*?)```", readme, re.S)
    assert block is not None
    path = tmp_path / "mychat.toml"
    path.write_text(block.group(1))
    target = CompiledTarget(load_description(path))
    assert not target.has_seq and target.use_markers
    assert target.description.auth.query == "key"
