"""``--target``/``--host``/``--service-pid`` refusals: one line, exit 2, before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.targets.checks import check_reachable, check_target, is_reference
from loadtests.targets.description import REFERENCE_PATH
from target_service.errors import UserError

EXAMPLE = Path("loadtests/targets/examples/offset_chat.toml")
DOWN = "http://127.0.0.1:9"


def pollcap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from analysis.cli.app import main; main()",
                           *args], capture_output=True, text=True, timeout=60)


def one_line_exit_2(done: subprocess.CompletedProcess[str], *, says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert says in done.stderr, done.stderr


def test_the_reference_description_is_the_default_and_is_recognised() -> None:
    assert is_reference(None) and is_reference("") and is_reference(str(REFERENCE_PATH))
    assert not is_reference(str(EXAMPLE))
    assert check_target(None).has_seq and not check_target(str(EXAMPLE)).has_seq


def test_push_transports_follow_only_the_reference_description() -> None:
    check_target(None, transport="websocket")
    with pytest.raises(UserError, match="--realtime sse"):
        check_target(str(EXAMPLE), transport="sse")


def test_an_unreachable_service_is_one_user_error() -> None:
    with pytest.raises(UserError, match="cannot reach the service at http://127.0.0.1:9"):
        check_reachable(DOWN, timeout_s=1.0)
    with pytest.raises(UserError, match="is not a URL"):
        check_reachable("127.0.0.1:8000")


@pytest.mark.slow  # eight CLI processes (each imports the swarm runner)
@pytest.mark.parametrize("command", ["swarm", "capacity"])
def test_broken_descriptions_and_unreachable_services_exit_2(
    command: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(EXAMPLE.read_text().replace('cursor_from = "answer.next"',
                                                  'cursor_from = "next"'))
    one_line_exit_2(pollcap(command, "--target", str(broken), "--host", DOWN),
                    says="'cursor_from' must start with 'message.' or 'answer.'")
    one_line_exit_2(pollcap(command, "--target", str(tmp_path / "none.toml"), "--host", DOWN),
                    says="no such file")
    one_line_exit_2(pollcap(command, "--target", str(EXAMPLE)), says="give its --host URL")
    one_line_exit_2(pollcap(command, "--target", str(EXAMPLE), "--host", DOWN),
                    says="cannot reach the service at http://127.0.0.1:9")


@pytest.mark.slow
def test_a_service_pid_must_exist_and_push_needs_the_reference(example_host: str) -> None:
    one_line_exit_2(pollcap("swarm", "--target", str(EXAMPLE), "--host", example_host,
                            "--service-pid", "999999999"), says="--service-pid 999999999")
    one_line_exit_2(pollcap("swarm", "--target", str(EXAMPLE), "--host", example_host,
                            "--realtime", "websocket"), says="--realtime websocket")
    one_line_exit_2(pollcap("capacity", "--service-pid", "1"), says="--service-pid is for")


def test_bench_swarm_says_against_not_target() -> None:
    one_line_exit_2(pollcap("bench-swarm", "--against", "cloud"),
                    says="--against must be stub or service")
