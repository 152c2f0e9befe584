"""gc_tuning.py: after start-up the objects alive are frozen; later garbage is still freed."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from target_service.gc_tuning import tune_gc
tune_gc()
class Cycle: pass
c = Cycle(); c.me = c; del c  # made after the tuning: still collected
print(json.dumps({"frozen": gc.get_freeze_count(), "collected": gc.collect()}))
"""


def test_tune_gc_freezes_start_up_and_keeps_later_garbage_collectable() -> None:
    """In a fresh interpreter: the test process's own collector is left alone."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=60, check=True)
    found = json.loads(out.stdout)
    assert found["frozen"] > 1000  # the interpreter's and the package's objects
    assert found["collected"] >= 1
