"""The open-files limit: raised to the hard limit, and a shortfall named in advance."""

from __future__ import annotations

import resource
import subprocess
import sys

from loadtests.clients.limits import SPARE_FDS, open_files_shortfall

RAISE = """
import resource
from loadtests.clients.limits import raise_open_files_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
before, after = raise_open_files_limit()
print(before, after, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
"""


def test_soft_limit_is_raised_to_the_hard_limit_in_a_child_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", RAISE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, after, now, hard = (int(v) for v in out)
    assert before <= 256 and after == now
    if hard != resource.RLIM_INFINITY:
        assert now == hard


def test_shortfall_names_the_numbers_and_the_fix() -> None:
    assert open_files_shortfall(users=10_000, limit=10_000 + SPARE_FDS) is None
    reason = open_files_shortfall(users=10_000, limit=10_000)
    assert reason is not None and "10000 users" in reason and "ulimit" in reason
