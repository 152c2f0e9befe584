"""Recording's share of the generator's CPU, read from one process that toggles it.

The toggled arm (:mod:`loadtests.recording.toggle`) records in even windows and not in
odd ones, and reads its own CPU time and request count at each window's edge. The
share is ``1 - (CPU per request off) / (CPU per request on)`` over the whole on/off
pairs inside the steady window; each pair's own share shows the spread. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadtests.recording.toggle import Edge


@dataclass(frozen=True, slots=True)
class RecordingSplit:
    period_s: float
    pairs: int  # whole (on, off) window pairs inside the steady window
    on_us_per_request: float
    off_us_per_request: float
    share: float  # recording's share of the CPU a request costs with recording on
    pair_shares: tuple[float, ...]  # each pair's own share, in time order


def edges_from(figures: dict[str, Any]) -> list[Edge]:
    """The edges of a toggle's figures (``RecordingToggle.figures``)."""
    return [Edge(float(t), float(cpu), int(n), bool(on)) for t, cpu, n, on in figures["edges"]]


def recording_split(
    edges: Sequence[Edge], *, start_s: float, end_s: float, period_s: float
) -> RecordingSplit | None:
    """The split over the windows between edges inside [start_s, end_s]; None without a
    whole (on, off) pair, or with a window that served no request."""
    inside = [e for e in edges if start_s <= e.t_s <= end_s]
    pairs: list[tuple[tuple[float, int], tuple[float, int]]] = []
    i = 0
    while i + 2 < len(inside):
        a, b, c = inside[i], inside[i + 1], inside[i + 2]
        if a.on and not b.on:  # an on window a..b, then an off window b..c
            pairs.append(((b.cpu_s - a.cpu_s, b.requests - a.requests),
                          (c.cpu_s - b.cpu_s, c.requests - b.requests)))
            i += 2
        else:
            i += 1
    if not pairs or any(on[1] <= 0 or off[1] <= 0 for on, off in pairs):
        return None
    on_cpu = sum(on[0] for on, _ in pairs)
    on_n = sum(on[1] for on, _ in pairs)
    off_cpu = sum(off[0] for _, off in pairs)
    off_n = sum(off[1] for _, off in pairs)
    on_per, off_per = on_cpu / on_n, off_cpu / off_n
    return RecordingSplit(
        period_s=period_s,
        pairs=len(pairs),
        on_us_per_request=round(on_per * 1e6, 1),
        off_us_per_request=round(off_per * 1e6, 1),
        share=round(1.0 - off_per / on_per, 4),
        pair_shares=tuple(
            round(1.0 - (off[0] / off[1]) / (on[0] / on[1]), 4) for on, off in pairs
        ),
    )
