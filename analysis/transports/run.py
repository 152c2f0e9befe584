"""``pollcap transports``: the same workload per transport, one knee ramp each.

Every transport (polling, long-poll, SSE, WebSocket: the Locust tab's ``--realtime``)
runs the same users, channels and send rate through :func:`analysis.capacity.run.run_capacity`
on a fresh stack, so the runs differ in the transport alone. Each run is saved like
a capacity run (``reports/<run-id>/``, rebuildable with ``pollcap report``) and its
unit costs (:mod:`analysis.transports.units`) feed the break-even report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from analysis.capacity.knee_loop import KneeSettings
from analysis.capacity.ramp import RampPlan
from analysis.capacity.run import CapacityConfig, run_capacity
from analysis.model.pricing import PriceTable
from analysis.report.render import build_report
from analysis.runs import save_run_data
from analysis.transports.units import TransportUnits, transport_units

TRANSPORTS = ("polling", "long-poll", "sse", "websocket")
# short by default: two planned steps and a 40 s cap per transport (about 4 minutes in all)
SHORT_PLAN = RampPlan(start=100, step=300, max_users=400, hold_s=8.0, spawn_rate=400.0)
SHORT_KNEE = KneeSettings(max_users=3000, budget_s=40.0)
REPORT_BOOTSTRAP = 50  # USL intervals are not what this report is about


@dataclass(frozen=True, slots=True)
class TransportRun:
    transport: str
    run_id: str
    stop_reason: str
    units: TransportUnits
    report_dir: Path


def check_transports(names: Sequence[str]) -> tuple[str, ...]:
    """The transports asked for, in the report's order; polling is always among them."""
    from target_service.errors import UserError

    unknown = [n for n in names if n not in TRANSPORTS]
    if unknown:
        raise UserError(f"--transport: unknown {', '.join(unknown)} "
                        f"(one of {', '.join(TRANSPORTS)})")
    chosen = tuple(t for t in TRANSPORTS if t in set(names) | {"polling"})
    if len(chosen) < 2:
        raise UserError("--transport: name at least one push transport besides polling")
    return chosen


def _prefixed(phase: Callable[[str], None], transport: str) -> Callable[[str], None]:
    return lambda msg: phase(f"{transport}: {msg}")


def run_transports(
    base: CapacityConfig,
    *,
    transports: Sequence[str],
    reports_dir: Path,
    price_tables: list[PriceTable],
    on_phase: Callable[[str], None] | None = None,
) -> list[TransportRun]:
    """One capacity run per transport on the same workload; each saved and analysed."""
    phase = on_phase or (lambda _msg: None)
    out = []
    for transport in transports:
        cfg = replace(base, run_id=None,
                      scenario=replace(base.scenario, realtime=transport))
        run = run_capacity(cfg, on_phase=_prefixed(phase, transport))
        folder = save_run_data(run.data, reports_dir=reports_dir)
        result = build_report(run.data, out_dir=folder, bootstrap=REPORT_BOOTSTRAP,
                              price_tables=price_tables).analysis
        out.append(TransportRun(transport=transport, run_id=run.data.run_id,
                                stop_reason=run.stop_reason,
                                units=transport_units(result, transport=transport,
                                                      tables=price_tables),
                                report_dir=folder))
    return out
