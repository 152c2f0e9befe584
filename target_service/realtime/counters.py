"""Per-worker counters of the push transports, exposed on ``/metrics`` (see ``install``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RealtimeCounters:
    ws_open: int = 0
    sse_open: int = 0
    longpoll_waiting: int = 0
    longpoll_shared: int = 0  # woken polls answered with a page another one built
    frames_in: int = 0
    frames_out: int = 0
    frames_direct: int = 0  # of frames_out, written straight to the transport (rawsend.py)
    fanout_batches: int = 0
    fanout_messages: int = 0
    fanout_lag_ms_sum: float = 0.0  # commit (createdAt) -> handed to subscribers, per message
    fanout_lag_ms_last: float = 0.0
    catchups: int = 0  # subscriptions that fell behind and were caught up by cursor
    resume_closes: int = 0  # connections closed with CLOSE_RESUME

    def gauges(self) -> dict[str, float]:
        """Name -> value, for :meth:`PromMetrics.gauge` (``_total`` names are counters)."""
        return {
            "realtime_ws_connections": self.ws_open,
            "realtime_sse_connections": self.sse_open,
            "realtime_longpoll_waiting": self.longpoll_waiting,
            "realtime_longpoll_shared_total": self.longpoll_shared,
            "realtime_frames_in_total": self.frames_in,
            "realtime_frames_out_total": self.frames_out,
            "realtime_frames_direct_total": self.frames_direct,
            "realtime_fanout_batches_total": self.fanout_batches,
            "realtime_fanout_messages_total": self.fanout_messages,
            "realtime_fanout_lag_ms_sum_total": self.fanout_lag_ms_sum,
            "realtime_fanout_lag_ms_last": self.fanout_lag_ms_last,
            "realtime_catchups_total": self.catchups,
            "realtime_resume_closes_total": self.resume_closes,
        }
