"""The service's CPU as a capacity run samples it: the whole uvicorn tree, every worker."""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import psutil
import pytest

from analysis.capacity.resources import ResourceSampler
from target_service.embedded.stack import StackInfo
from target_service.serve import run_service

LOAD_S = 3.0
THREADS = 4


def _hammer(url: str, *, until: float) -> None:
    """A new connection per request, so the kernel hands them to both workers."""
    parts = urlsplit(url)
    while time.monotonic() < until:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
        try:
            conn.request("GET", "/api/ping")
            conn.getresponse().read()
        finally:
            conn.close()


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@pytest.mark.slow
def test_service_cpu_is_summed_over_both_workers(clean_backends: StackInfo) -> None:
    with run_service(redis_url=clean_backends.redis_url, database_url=clean_backends.database_url,
                     workers=2, policy="fixed-2s", cache_mode="fresh") as handle:
        workers = handle.worker_pids
        assert len(workers) == 2
        before = {pid: _cpu_s(pid) for pid in workers}
        sampler = ResourceSampler(groups={"service": lambda: handle.pids}, interval_s=0.5).start()
        until = time.monotonic() + LOAD_S
        threads = [threading.Thread(target=_hammer, args=(handle.url,), kwargs={"until": until})
                   for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.6)  # one more sample after the load
        frame = sampler.stop()
        per_worker_s = {pid: _cpu_s(pid) - before[pid] for pid in workers}
    assert min(per_worker_s.values()) > 0.05, per_worker_s  # both workers served
    dt_s = frame["t_ms"].diff().fillna(500.0) / 1000.0
    sampled_s = float((frame["service_cpu_percent"].fillna(0) / 100.0 * dt_s).sum())
    # the tree's CPU is at least what the two workers used (the master adds a little)
    assert sampled_s >= 0.9 * sum(per_worker_s.values()), (sampled_s, per_worker_s)
    assert sampled_s > 1.2 * max(per_worker_s.values())  # more than any one worker alone
