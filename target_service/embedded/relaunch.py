"""Stopping an embedded server for a fault, and starting it again: same port, same data.

Chaos runs kill Valkey (it comes back empty: the stack runs it with ``--save ""``),
stop or kill PostgreSQL (it comes back on the same data folder, after crash recovery
when it was killed) and keep it down for a while before healing; the deadline tests
restart at once. A server comes back with the launcher's own start functions (parent-death
signal, and for PostgreSQL the same escape from root), so what runs afterwards is the
server the stack started, not a look-alike.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil

from target_service.embedded.children import Launched, signal_server, stop_child
from target_service.embedded.postgres import restart_postgres
from target_service.embedded.readiness import wait_ready
from target_service.embedded.valkey import start_valkey

EXIT_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 30.0


def _family(launched: Launched) -> list[psutil.Process]:
    try:
        root = psutil.Process(launched.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_server(launched: Launched, *, kill: bool, timeout_s: float = EXIT_TIMEOUT_S) -> None:
    """Fast shutdown (PostgreSQL SIGINT, Valkey SIGTERM), or with ``kill`` SIGKILL of the
    server and every process it forked (a crash); returns once all of them are gone."""
    family = _family(launched)
    signal_server(launched, signal.SIGCONT)  # a paused server cannot stop
    if kill:
        signal_server(launched, signal.SIGKILL)
        launched.popen.wait(timeout=timeout_s)
    else:
        stop_child(launched, timeout_s=timeout_s)
    psutil.wait_procs(family, timeout=timeout_s)  # PostgreSQL backends exit after the postmaster


def start_again(
    stopped: Launched, *, run_dir: Path, ready_timeout_s: float = READY_TIMEOUT_S
) -> Launched:
    """Start a stopped server on its port (PostgreSQL on its data) and wait until it answers."""
    if stopped.kind == "valkey":
        new = start_valkey(run_dir=stopped.log_path.parent, port=stopped.port)
    else:
        new = restart_postgres(stopped, run_dir=run_dir)
    wait_ready(new, deadline=time.monotonic() + ready_timeout_s)
    return new


__all__ = ["start_again", "stop_server"]
