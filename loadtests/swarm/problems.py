"""Why a swarm's figures cannot be trusted, in words (pure functions over what it left).

A swarm that ran out of file descriptors, could not reach its target, or never
held its plateau still produces numbers: a poll rate of 0.0 and a steady window of
0 s. Those must come with the reason, read from Locust's failures table, its log
and the run's own counts, so the summary and the bench print *why* instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

TOP_FAILURES = 3
LOG_MARKERS = ("Too many open files", "pollcap: ", "Traceback", "CRITICAL")
MAX_LOG_LINES = 3


def failure_lines(failures: pd.DataFrame) -> list[str]:
    """The most frequent errors of ``locust_failures.csv`` as "N x METHOD name: error"."""
    if failures.empty or "Occurrences" not in failures.columns:
        return []
    top = failures.sort_values("Occurrences", ascending=False).head(TOP_FAILURES)
    return [
        f"{int(row.Occurrences)} x {row.Method} {row.Name}: {str(row.Error)[:160]}"
        for row in top.itertuples()
    ]


def log_lines(log_text: str) -> list[str]:
    """Distinct warning lines of Locust's log that name a cause (first few)."""
    found: list[str] = []
    for line in log_text.splitlines():
        if "WARNING" not in line and "ERROR" not in line and "CRITICAL" not in line:
            continue
        if any(marker in line for marker in LOG_MARKERS):
            text = line.split("/", 1)[-1].strip()[:200]
            if text not in found:
                found.append(text)
        if len(found) >= MAX_LOG_LINES:
            break
    return found


def find_problems(
    *,
    polls: int,
    requests: int,
    errors: int,
    steady_window_s: float,
    returncode: int,
    failures: Iterable[str],
    log_warnings: Iterable[str],
    expect_polls: bool = True,
) -> list[str]:
    """Every reason the run's figures are missing or suspect; empty when none.

    ``expect_polls=False`` for WebSocket tabs: they never poll chat (the socket delivers).
    """
    problems: list[str] = []
    if returncode not in (0, -2, 130):
        problems.append(f"Locust exited with code {returncode}")
    if polls == 0 and expect_polls:
        problems.append("no chat poll completed")
    if steady_window_s <= 0:
        problems.append("no steady window: the user count never held its final plateau")
    if errors and requests:
        problems.append(f"{errors} of {requests} requests failed ({errors / requests:.1%})")
    elif errors:
        problems.append(f"{errors} requests failed, none succeeded")
    return [*problems, *failures, *log_warnings]


def first_error(log_text: str) -> str | None:
    """Locust's first ERROR/CRITICAL log entry with its exception line, or None."""
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if "/ERROR/" not in line and "/CRITICAL/" not in line:
            continue
        head = line.split("/", 2)[-1].strip()
        following = lines[i + 1 :]
        end = next((j for j, nxt in enumerate(following) if nxt.startswith("[")), len(following))
        block = [ln for ln in following[:end] if ln.strip()]
        return f"{head} {block[-1].strip()}" if block else head
    return None
