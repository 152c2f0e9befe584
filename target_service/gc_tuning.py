"""The worker's garbage collector, tuned once the app has started (``Settings.gc_tuning``).

CPython's full collections scan every tracked object. A started worker holds about a
million of them that live as long as the process (modules, the FastAPI app and its
pydantic models, the pools), and measured full collections of a one-worker service
under a 1,000-tab push swarm took 0.27-0.66 s each (four to eighteen in a 40 s run,
the most under long-polling, whose held requests live long enough to be promoted):
every receiver waits that long, so they were the tail of the delivery latency.
``gc.freeze`` moves what is alive after start-up out of the collector's sight, and a
young generation of 50,000 allocations (CPython: 700) lets a request's objects die
before a collection promotes them. What the service allocates afterwards stays
collectable: nothing is frozen later, so a closed connection's cycles are still freed.
"""

from __future__ import annotations

import gc

GC_THRESHOLD_GEN0 = 50_000  # allocations between young collections (as the Locust tabs')


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD_GEN0, gen1, gen2)
