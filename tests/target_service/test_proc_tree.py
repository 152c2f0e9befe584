"""``target_service.proc_tree``: CPU of a real process tree; an exited child keeps its share."""

from __future__ import annotations

import select
import subprocess
import sys

from target_service.proc_tree import TreeMeter, cpu_s_of

BURN_S = 0.4
BURN = f"import time\nend = time.process_time() + {BURN_S}\nwhile time.process_time() < end: pass"
PARENT = (
    "import subprocess, sys, time\n"
    "sys.stdin.readline()\n"
    f"subprocess.run([sys.executable, '-c', {BURN!r}])\n"
    "print('done', flush=True)\n"
    "time.sleep(60)\n"
)


def test_cpu_of_an_exited_child_stays_counted() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdin is not None and parent.stdout is not None
    meter = TreeMeter()
    try:
        before = meter.read([parent.pid])
        assert before.rss_bytes > 0
        parent.stdin.write("go\n")
        parent.stdin.flush()
        while not select.select([parent.stdout], [], [], 0.02)[0]:
            meter.read([parent.pid])  # sees the child while it burns
        assert parent.stdout.readline().strip() == "done"
        after = meter.read([parent.pid])
        assert after.cpu_s - before.cpu_s >= BURN_S * 0.8
        assert cpu_s_of(parent.pid) < after.cpu_s - BURN_S * 0.5  # a fresh meter never saw it
    finally:
        parent.kill()
        parent.wait()
