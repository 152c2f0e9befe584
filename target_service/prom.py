"""Prometheus text exposition, hand-written: counters and latency histograms per route.

Per worker process (each scrape reaches one worker; label ``pid`` says which). Cheap
enough to update on every request: a dict lookup and a bisect.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    __slots__ = ("counts", "total", "sum_s")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_S) + 1)
        self.total = 0
        self.sum_s = 0.0

    def observe(self, value_s: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, value_s)] += 1
        self.total += 1
        self.sum_s += value_s


class PromMetrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.gauges: dict[str, Callable[[], float]] = {}

    def observe(self, *, method: str, route: str, status: int, duration_s: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get((method, route))
        if hist is None:
            hist = self.latency[(method, route)] = Histogram()
        hist.observe(duration_s)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """A value read at scrape time (cache hits, DB queries, load...)."""
        self.gauges[name] = read

    def render(self) -> str:
        pid = os.getpid()
        out = ["# TYPE pollcap_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            out.append(f'pollcap_http_requests_total{{pid="{pid}",method="{method}",'
                       f'route="{route}",status="{status}"}} {n}')
        out.append("# TYPE pollcap_http_request_duration_seconds histogram")
        for (method, route), hist in sorted(self.latency.items()):
            labels = f'pid="{pid}",method="{method}",route="{route}"'
            running = 0
            for bound, count in zip((*BUCKETS_S, float("inf")), hist.counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(f'pollcap_http_request_duration_seconds_bucket{{{labels},le="{le}"}}'
                           f" {running}")
            out.append(f"pollcap_http_request_duration_seconds_sum{{{labels}}} {hist.sum_s:.6f}")
            out.append(f"pollcap_http_request_duration_seconds_count{{{labels}}} {hist.total}")
        for name, read in sorted(self.gauges.items()):
            kind = "counter" if name.endswith("_total") else "gauge"
            out.append(f"# TYPE pollcap_{name} {kind}")
            out.append(f'pollcap_{name}{{pid="{pid}"}} {read()}')
        return "\n".join(out) + "\n"
