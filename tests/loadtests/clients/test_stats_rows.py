"""StatsRows writes the rows Locust's own request listener would have written.

The checks (``stats_rows_checks.py``) run in a fresh interpreter: importing Locust
monkey-patches the process with gevent, which this test session must not be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = Path(__file__).with_name("stats_rows_checks.py")
NAMES = [
    "test_direct_rows_equal_the_request_event",
    "test_a_batch_equals_one_row_per_delivery",
    "test_a_custom_bucketing_is_followed",
    "test_another_listener_gets_every_row",
    "test_a_failure_goes_through_the_event_and_logs_its_error",
]


@pytest.fixture(scope="module")
def results() -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, str(CHECKS), *NAMES],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[3],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_stats_rows(results: dict[str, str], name: str) -> None:
    assert results[name] == "ok"
