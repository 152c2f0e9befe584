"""The worker's garbage collector after start-up (``Settings.gc_tuning``): ``gc.freeze``.

CPython's full collections scan every tracked object. A started worker holds several
hundred thousand that live as long as the process (modules, the FastAPI app and its
pydantic models, the pools), so each full collection of a one-worker service under a
1,000-tab push swarm paused it 0.27-0.66 s (measured with the collector's callbacks,
under a sampling profiler that made them more frequent): every receiver waits that
long. ``gc.freeze`` moves what is alive once the app has started out of the
collector's sight, so a full collection scans only what the service made since. The
young generation keeps CPython's threshold: a larger one (50,000, as the Locust tabs
use) measured no better here, and each young pass grows with it. Nothing is frozen
later, so a closed connection's cycles are still freed.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
