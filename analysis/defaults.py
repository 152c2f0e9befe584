"""The one place for the analysis defaults; light enough to import for ``pollcap --help``.

``PlanDefaults`` holds every figure a report, a plan or a sweep falls back to when
the run's ``meta.json`` or the command line does not give one. Pass another
instance down (``dataclasses.replace(PLAN_DEFAULTS, headroom=0.6)``) rather than
editing literals: the CLI, the capacity runner, the report, the sweep and the
notebooks all read the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPORTS_DIR = Path("reports")
RUNS_DIR = Path("runs")
SECONDS_PER_MONTH = 30 * 24 * 3600  # a 30-day month, every user active all of it
SOURCE_CACHE_TTL_S = 5.0  # the source design's ``EX 5`` (what a run without meta assumed)


@dataclass(frozen=True, slots=True)
class PlanDefaults:
    """Defaults of a capacity plan and of a policy sweep (units in the names).

    ``slo_p95_ms``: p95 delivery latency a message must show within; ``max_error_rate``:
    share of failed requests a step may have and still meet the SLO; ``headroom``:
    share of the measured SLO capacity an instance is planned at; ``price_per_million_usd``:
    request charge per million requests (serverless-style); ``warmup_fraction``: share
    of each step dropped before its statistics (spawning, cold cache);
    ``target_users``: the growth steps a plan is made for.
    """

    slo_p95_ms: float = 3000.0
    max_error_rate: float = 0.01
    headroom: float = 0.7
    price_per_million_usd: float = 0.20
    warmup_fraction: float = 0.25
    target_users: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)


PLAN_DEFAULTS = PlanDefaults()
SLO_P95_MS = PLAN_DEFAULTS.slo_p95_ms
