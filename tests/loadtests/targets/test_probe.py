"""``pollcap probe`` against live services: the reference service and the example target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loadtests.targets.compiled import compile_target
from loadtests.targets.probe import run_probe

EXAMPLE = Path("loadtests/targets/examples/offset_chat.toml")


def results(checks: list) -> dict[str, bool | None]:
    return {c.name: c.ok for c in checks}


def pollcap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from analysis.cli.app import main; main()",
                           *args], capture_output=True, text=True, timeout=120)


def test_the_reference_description_matches_the_reference_service(reference_host: str) -> None:
    checks = results(run_probe(compile_target(), host=reference_host))
    assert False not in checks.values(), checks
    for name in ("messages: seq", "messages: created-at", "cursor: no repeats",
                 "poll: active users", "poll: interval hint", "notifications: list"):
        assert checks[name] is True, name


def test_the_example_description_matches_the_example_target(example_host: str) -> None:
    checks = results(run_probe(compile_target(str(EXAMPLE)), host=example_host))
    assert False not in checks.values(), checks
    assert checks["messages: seq"] is None and checks["poll: active users"] is None
    assert checks["cursor: no repeats"] is True


def test_a_wrong_mapping_is_a_mismatch_with_its_cause(tmp_path: Path, example_host: str) -> None:
    wrong = tmp_path / "wrong.toml"
    text = EXAMPLE.read_text().replace('cursor_from = "answer.next"', 'cursor_from = "message.uid"')
    wrong.write_text(text.replace('content = "text"', 'content = "body"'))
    checks = run_probe(compile_target(str(wrong)), host=example_host)
    failed = {c.name: c.detail for c in checks if c.ok is False}
    assert "messages: both sends found" in failed and "content field 'body'" in \
        failed["messages: both sends found"]


def test_the_cli_exits_2_on_a_mismatch_and_0_on_a_match(example_host: str) -> None:
    ok = pollcap("probe", "--target", str(EXAMPLE), "--host", example_host)
    assert ok.returncode == 0, ok.stderr
    assert "cursor: no repeats" in ok.stdout
    wrong = pollcap("probe", "--host", example_host)  # the reference description
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0 and "mismatch" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_an_unreachable_service_and_a_remote_host_are_one_line_errors(tmp_path: Path) -> None:
    down = pollcap("probe", "--host", "http://127.0.0.1:9")
    assert down.returncode == 2 and "cannot reach" in down.stderr
    remote = pollcap("probe", "--host", "http://example.com")
    assert remote.returncode == 2 and "Traceback" not in remote.stderr
    broken = tmp_path / "b.toml"
    broken.write_text("[auth]\n")
    bad = pollcap("probe", "--target", str(broken), "--host", "http://127.0.0.1:9")
    assert bad.returncode == 2 and str(broken) in bad.stderr
