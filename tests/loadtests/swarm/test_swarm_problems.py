"""A swarm's problems in words: from Locust's failures table, its log and the counts."""

from __future__ import annotations

from typing import Any

import pandas as pd

from loadtests.swarm.problems import failure_lines, find_problems, first_error, log_lines

LOG = """\
[2026-12-01 10:00:00,000] host/INFO/pollcap: pollcap: open files limit 1024 -> 20000
[2026-12-01 10:00:05,000] host/WARNING/pollcap: pollcap: 30000 users need about 30200 open files
[2026-12-01 10:00:06,000] host/ERROR/locust.user.users: OSError(24, 'Too many open files')
[2026-12-01 10:00:06,100] host/ERROR/locust.user.users: OSError(24, 'Too many open files')
[2026-12-01 10:00:07,000] host/WARNING/locust.runners: CPU usage above 90%!
"""


def test_failures_most_frequent_first() -> None:
    table = pd.DataFrame(
        {
            "Method": ["GET", "POST"],
            "Name": ["/api/chat/[channel]/messages", "/api/users"],
            "Error": ["ConnectionRefusedError(111)", "OSError(24, 'Too many open files')"],
            "Occurrences": [3, 120],
        }
    )
    lines = failure_lines(table)
    assert lines[0].startswith("120 x POST /api/users") and "Too many open files" in lines[0]
    assert failure_lines(pd.DataFrame()) == []


def test_log_lines_keep_distinct_causes_only() -> None:
    lines = log_lines(LOG)
    assert len(lines) == 2
    assert "30000 users" in lines[0] and "Too many open files" in lines[1]


def test_a_run_without_polls_says_so_and_why() -> None:
    problems = find_problems(
        polls=0,
        requests=500,
        errors=500,
        steady_window_s=0.0,
        returncode=0,
        failures=["500 x POST /api/users: OSError(24, 'Too many open files')"],
        log_warnings=[],
    )
    assert "no chat poll completed" in problems
    assert any("steady window" in p for p in problems)
    assert any("500 of 500 requests failed" in p for p in problems)
    assert problems[-1].endswith("'Too many open files')")


def test_a_clean_run_has_no_problems() -> None:
    assert (
        find_problems(
            polls=1000,
            requests=1010,
            errors=0,
            steady_window_s=40.0,
            returncode=0,
            failures=[],
            log_warnings=[],
        )
        == []
    )


def test_first_error_keeps_the_exception_line() -> None:
    text = (
        "[2026-12-01 09:56:03,275] vm/INFO/locust.runners: All users spawned\n"
        "[2026-12-01 09:56:03,280] vm/ERROR/root: Uncaught exception in event handler: \n"
        "Traceback (most recent call last):\n"
        '  File "event.py", line 45, in fire\n'
        "TypeError: f() missing 1 required positional argument: 'environment'\n"
        "[2026-12-01 09:56:29,709] vm/INFO/locust.runners: Shape test stopping\n"
    )
    found = first_error(text)
    assert found is not None
    assert found.startswith("root: Uncaught exception") and found.endswith("'environment'")
    assert first_error("[t] vm/INFO/x: fine\n") is None


def test_websocket_tabs_are_not_expected_to_poll_chat() -> None:
    """WebSocket tabs never poll chat: no polls is then no problem (other checks remain)."""
    args: dict[str, Any] = dict(polls=0, requests=500, errors=0, steady_window_s=30.0,
                                returncode=0, failures=[], log_warnings=[])
    assert "no chat poll completed" in find_problems(**args)
    assert find_problems(**args, expect_polls=False) == []
