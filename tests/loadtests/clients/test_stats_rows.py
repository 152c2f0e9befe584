"""StatsRows writes the rows Locust's own request listener would have written.

The checks (``stats_rows_checks.py``) run in a fresh interpreter: importing Locust
monkey-patches the process with gevent, which this test session must not be.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = Path(__file__).with_name("stats_rows_checks.py")
NAMES = [  # every test_* function of the checks file
    node.name for node in ast.parse(CHECKS.read_text()).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
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
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_stats_rows(results: dict[str, str], name: str) -> None:
    assert results[name] == "ok"
