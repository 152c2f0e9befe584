"""Recording switched off and on in one process: the windows, the switch, the closing flush."""

from __future__ import annotations

import time
from types import SimpleNamespace

import gevent
import pytest
import redis

from loadtests.recording.keys import samples_key
from loadtests.recording.recorder import Recorder
from loadtests.recording.toggle import RecordingToggle, recording_on_at
from target_service.embedded.stack import StackInfo

RUN = "t-toggle"


def test_even_windows_record_and_odd_ones_do_not() -> None:
    assert recording_on_at(100.0, period_s=5.0)  # 100 / 5 = 20: even
    assert recording_on_at(104.99, period_s=5.0)
    assert not recording_on_at(105.0, period_s=5.0)
    assert recording_on_at(110.0, period_s=5.0)


def test_switching_off_drops_the_recorder_and_returns_once_its_rows_are_shipped(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN, flush_interval_s=1.0)
    scenario = SimpleNamespace(recorder=rec)
    toggle = RecordingToggle(scenario, period_s=5.0)
    assert not toggle.apply(100.0)  # an on window: nothing to do
    assert scenario.recorder is rec
    rec.start()
    try:
        rec.poll(t_ms=1000.0, user="1", n=1, latency_ms=2.0, channel="c")
        asked = time.perf_counter()
        assert toggle.apply(106.0)
        assert scenario.recorder is None and rec.paused  # no timed flush while off
        assert client.zcard(samples_key(run_id=RUN, sample_type="poll")) == 1
        assert time.perf_counter() - asked < 0.5, "shipped at the switch, not a tick later"
        assert toggle.apply(111.0) and scenario.recorder is rec and not rec.paused
        assert toggle.apply(107.0)
        toggle.stop()  # the recorder is put back whatever the window
        assert scenario.recorder is rec and not rec.paused
    finally:
        rec.stop()
        rec.close()


def test_the_running_toggle_follows_the_clock_and_reads_an_edge_after_each_switch(
    clean_backends: StackInfo,
) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN)
    scenario = SimpleNamespace(recorder=rec)
    period_s = 0.4
    served = [0]
    toggle = RecordingToggle(scenario, period_s=period_s, requests=lambda: served[0])
    rec.start()
    toggle.start()
    seen, agreed = 0, 0
    try:
        end = time.time() + 2.0
        while time.time() < end:
            busy_until = time.process_time() + 0.004  # CPU the edges must see
            while time.process_time() < busy_until:
                pass
            served[0] += 1
            gevent.sleep(0.006)
            now = time.time()
            phase = (now % period_s) / period_s
            if 0.6 < phase < 0.95:  # past a switch and its flush (at most half a period)
                seen += 1
                agreed += (scenario.recorder is rec) == recording_on_at(now, period_s=period_s)
    finally:
        toggle.stop()
        rec.stop()
        rec.close()
    assert seen > 20 and agreed == seen and scenario.recorder is rec
    edges = toggle.edges
    assert len(edges) >= 3
    assert all(b.on != a.on for a, b in zip(edges, edges[1:], strict=False))
    assert all(b.cpu_s > a.cpu_s and b.requests > a.requests
               for a, b in zip(edges, edges[1:], strict=False))
    figures = toggle.figures()
    assert figures["period_s"] == period_s and len(figures["edges"]) == len(edges)


def test_a_toggle_needs_a_recorder_and_a_period() -> None:
    with pytest.raises(ValueError, match="recorder"):
        RecordingToggle(SimpleNamespace(recorder=None), period_s=5.0)
    with pytest.raises(ValueError, match="period"):
        RecordingToggle(SimpleNamespace(recorder=object()), period_s=0.0)
