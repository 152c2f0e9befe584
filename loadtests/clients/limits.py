"""The Locust process's open-file limit: every simulated tab holds one socket.

Locust itself only lifts the soft ``RLIMIT_NOFILE`` to 10,000; a process holding
10,000 tabs needs 10,000 sockets plus Locust's own, the recorder's and the
producer's. So the process raises its soft limit to the hard limit at start (no
privilege needed), and says so when even that is too small for the users asked for.
"""

from __future__ import annotations

import resource

SPARE_FDS = 200  # Locust, the recorder's Redis pool, the producer, logs and CSVs
UNLIMITED_TARGET = 1 << 20  # when the hard limit is "unlimited": the kernel's usual nr_open


def raise_open_files_limit() -> tuple[int, int]:
    """Lift the soft open-files limit to the hard one; returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if target <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target


def open_files_shortfall(*, users: int, limit: int) -> str | None:
    """Why ``users`` tabs cannot all connect under ``limit`` descriptors, or None (pure)."""
    needed = users + SPARE_FDS
    if needed <= limit:
        return None
    return (
        f"{users} users need about {needed} open files but this process may open {limit}"
        " (raise the hard limit: ulimit -Hn, or use --processes)"
    )
