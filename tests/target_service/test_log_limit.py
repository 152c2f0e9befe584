"""``target_service.log_limit``: the first of a cause at once, then one summary per interval.

The limiter's decisions on a fake clock, its accounting under threads, and one real
burst: a service whose only PostgreSQL connection is held answers a burst of sign-ups
with 503s and logs a bounded number of lines that still account for every one of them;
500s keep their traceback each time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

import httpx
import pytest

from target_service.log_limit import LogLimiter, Summary
from tests.target_service.fixtures import MakeClient

INTERVAL_S = 10.0
CAUSE = "503 (no connection in time)"


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def limiter_on(clock: FakeClock) -> LogLimiter:
    return LogLimiter(interval_s=INTERVAL_S, clock_s=clock,
                      logger=logging.getLogger("tests.log_limit"))


def test_the_first_is_logged_then_silence_then_one_summary_counting_the_rest() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    assert limiter.admit(CAUSE) is True
    for _ in range(5):
        clock.now_s += 1.0
        assert limiter.admit(CAUSE) is False
    clock.now_s += INTERVAL_S - 5.0  # the window has passed: this one brings the summary
    summary = limiter.admit(CAUSE)
    assert summary == Summary(cause=CAUSE, count=6, span_s=INTERVAL_S)
    assert summary.line() == f"6 more {CAUSE} in the last 10 s"
    assert limiter.admit(CAUSE) is False  # a new window began with the summary


def test_due_writes_the_count_of_a_burst_that_stopped_and_forgets_quiet_causes() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    limiter.admit(CAUSE)
    limiter.admit(CAUSE)
    limiter.admit(CAUSE)
    assert limiter.due() == []  # not yet an interval
    clock.now_s += INTERVAL_S
    assert limiter.due() == [Summary(cause=CAUSE, count=2, span_s=INTERVAL_S)]
    clock.now_s += INTERVAL_S
    assert limiter.due() == []  # quiet for a whole interval: forgotten
    assert limiter.admit(CAUSE) is True  # so the next is logged in full again


def test_a_cause_quiet_for_an_interval_is_logged_in_full_again() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    assert limiter.admit(CAUSE) is True
    clock.now_s += INTERVAL_S + 0.1
    assert limiter.admit(CAUSE) is True


def test_causes_are_limited_apart_and_force_flushes_what_is_pending() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    other = "504 (PostgreSQL too slow)"
    assert limiter.admit(CAUSE) is True
    assert limiter.admit(other) is True
    assert limiter.admit(CAUSE) is False
    clock.now_s += 1.0
    assert limiter.due() == []
    assert limiter.due(force=True) == [Summary(cause=CAUSE, count=1, span_s=1.0)]


def test_threads_sharing_a_limiter_lose_no_occurrence() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    threads_n, each_n = 8, 2000
    admitted: list[bool | Summary] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [limiter.admit(CAUSE) for _ in range(each_n)]
        with lock:
            admitted.extend(mine)

    workers = [threading.Thread(target=hammer) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert admitted.count(True) == 1
    assert limiter.due(force=True) == [
        Summary(cause=CAUSE, count=threads_n * each_n - 1, span_s=0.0)]


def test_warning_logs_the_message_first_and_the_summary_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    with caplog.at_level(logging.WARNING, logger="tests.log_limit"):
        for i in range(4):
            limiter.warning(CAUSE, "503 on %s", f"/path/{i}")
        clock.now_s += INTERVAL_S
        limiter.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "503 on /path/0", f"3 more {CAUSE} in the last 10 s"]


BURST_N = 120
BURST_INTERVAL_S = 1.0  # short, so the test sees the summaries within seconds
SUMMARY = re.compile(r"^(\d+) more 503 \(no connection in time\) in the last \d+ s$")


async def test_a_burst_of_503s_logs_a_bounded_number_of_lines_and_500s_every_time(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client(pg_min_size=1, pg_max_size=1, pg_acquire_timeout_s=0.05,
                               overload_log_interval_s=BURST_INTERVAL_S)
    app = client.app  # type: ignore[attr-defined]
    held = await app.state.svc.db.pool.acquire()  # the only connection: every acquire waits
    started_s = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="pollcap.service"):
            answers = await asyncio.gather(*(
                client.post("/api/users", json={"name": f"u{i}"}) for i in range(BURST_N)))
            burst_s = time.monotonic() - started_s
            await asyncio.sleep(BURST_INTERVAL_S + 0.3)  # the background tick's summary
    finally:
        await app.state.svc.db.pool.release(held)
    assert [a.status_code for a in answers] == [503] * BURST_N
    lines = [r.getMessage() for r in caplog.records if r.name == "pollcap.service"]
    assert lines[0].startswith("503 on POST /api/users: no PostgreSQL connection")
    counts = [int(m.group(1)) for m in map(SUMMARY.match, lines[1:]) if m]
    assert len(counts) == len(lines) - 1, lines  # nothing but the first and summaries
    assert 1 + sum(counts) == BURST_N  # every 503 accounted for
    assert len(lines) <= 2 + burst_s / BURST_INTERVAL_S, (len(lines), burst_s)

    async def broken() -> None:
        raise RuntimeError("a bug on purpose")

    app.add_api_route("/api/broken", broken)
    caplog.clear()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as raw:
        with caplog.at_level(logging.ERROR, logger="pollcap.service"):
            for _ in range(3):
                assert (await raw.get("/api/broken")).status_code == 500
    tracebacks = [r for r in caplog.records if r.name == "pollcap.service" and r.exc_info]
    assert len(tracebacks) == 3
