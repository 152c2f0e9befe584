"""The push sampler's parsing of ``/metrics`` pages, its scrape thread, and its join onto
the resources frame."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from analysis.capacity.push_probe import (
    PUSH_COLUMNS,
    PushSampler,
    merged_row,
    parse_push_metrics,
    with_push_columns,
)
from target_service.prom import PromMetrics
from target_service.realtime.counters import RealtimeCounters


def page(counters: RealtimeCounters) -> str:
    """A real /metrics page of one worker, rendered by the service's own exposition."""
    prom = PromMetrics()
    prom.observe(method="GET", route="/api/ping", status=200, duration_s=0.001)
    for name in counters.gauges():
        def read(n: str = name) -> float:
            return float(counters.gauges()[n])

        prom.gauge(name, read)
    return prom.render()


def test_every_push_column_is_read_from_the_services_own_page() -> None:
    counters = RealtimeCounters(ws_open=12, sse_open=3, longpoll_waiting=4, frames_out=99,
                                fanout_messages=7, fanout_lag_ms_sum=70.5, catchups=2,
                                resume_closes=1)
    ((pid, values),) = parse_push_metrics(page(counters)).items()
    assert pid > 0
    assert set(values) == set(PUSH_COLUMNS)
    assert values["push_ws_connections"] == 12
    assert values["push_fanout_lag_ms_sum"] == pytest.approx(70.5)
    assert values["push_resume_closes"] == 1


def test_workers_are_summed_from_each_ones_latest_page() -> None:
    latest = {1: {"push_ws_connections": 10.0, "push_catchups": 1.0},
              2: {"push_ws_connections": 5.0}}
    row = merged_row(latest)
    assert row["push_ws_connections"] == 15
    assert row["push_catchups"] == 1
    assert row["push_sse_connections"] == 0


def test_push_rows_join_the_resources_at_or_before_each_sample() -> None:
    resources = pd.DataFrame({"t_ms": [1000.0, 2000.0, 3000.0], "cpu_percent": [5.0, 6.0, 7.0],
                              "rss_bytes": [1.0, 2.0, 3.0]})
    push = pd.DataFrame({"t_ms": [1500.0, 2900.0], **{c: [1.0, 2.0] for c in PUSH_COLUMNS}})
    joined = with_push_columns(resources, push)
    assert list(joined["cpu_percent"]) == [5.0, 6.0, 7.0]
    assert joined["push_ws_connections"].isna().tolist() == [True, False, False]
    assert list(joined["push_ws_connections"].iloc[1:]) == [1.0, 2.0]
    assert with_push_columns(resources, push.iloc[0:0]) is resources


@pytest.fixture
def metrics_server() -> Iterator[tuple[str, list[int]]]:
    """A loopback HTTP server whose ``/metrics`` is one worker's page; the list holds the
    status to answer (200, or 500 to fail a scrape)."""
    body = page(RealtimeCounters(ws_open=5, frames_out=40)).encode()
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(status[0])
            self.end_headers()
            self.wfile.write(body if status[0] == 200 else b"")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", status
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_until(check: Callable[[], bool], *, timeout_s: float = 5.0) -> None:
    deadline_s = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline_s:
        time.sleep(0.01)


def test_the_sampler_scrapes_rows_in_its_thread_and_counts_failed_scrapes(
    metrics_server: tuple[str, list[int]],
) -> None:
    url, status = metrics_server
    sampler = PushSampler(url=url, interval_s=0.02).start()
    wait_until(lambda: len(sampler.rows) >= 2)
    status[0] = 500
    wait_until(lambda: sampler.errors >= 1)
    frame = sampler.stop()
    assert list(frame.columns) == ["t_ms", *PUSH_COLUMNS]
    assert len(frame) >= 2 and set(frame["push_ws_connections"]) == {5.0}
    assert sampler.errors >= 1
    assert not sampler._thread or not sampler._thread.is_alive()
