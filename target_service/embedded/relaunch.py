"""Start an embedded server again after it was killed or stopped: same port, same data.

Chaos runs kill Valkey (it comes back empty: the stack runs it with ``--save ""``),
stop or kill PostgreSQL (it comes back on the same data folder, after crash recovery
when it was killed) and pause either of them. A relaunch replays the server's own
command line with the same child set-up as the first start (parent-death signal, and
for PostgreSQL the same escape from root), so what runs afterwards is the server the
stack started, not a look-alike.
"""

from __future__ import annotations

import signal
import subprocess
import time

import psutil

from target_service.embedded import procs
from target_service.embedded.procs import Launched
from target_service.errors import UserError

READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 30.0


def server_processes(launched: Launched) -> list[psutil.Process]:
    """The server and every process under it (PostgreSQL serves each connection in a child)."""
    try:
        main = psutil.Process(launched.pid)
        return [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def signal_all(launched: Launched, sig: int) -> int:
    """Send ``sig`` to the server and all its children; returns how many got it."""
    sent = 0
    for proc in server_processes(launched):
        try:
            proc.send_signal(sig)
            sent += 1
        except psutil.NoSuchProcess:
            continue
    return sent


def kill_all(launched: Launched) -> None:
    """SIGKILL the server and its children (a crash), and reap the main process."""
    procs_now = server_processes(launched)
    signal_all(launched, signal.SIGKILL)
    launched.popen.wait(timeout=EXIT_TIMEOUT_S)
    psutil.wait_procs(procs_now, timeout=EXIT_TIMEOUT_S)


def fast_shutdown(launched: Launched) -> None:
    """PostgreSQL's fast shutdown (SIGINT): roll back, disconnect, checkpoint, exit."""
    launched.popen.send_signal(signal.SIGINT)
    try:
        launched.popen.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UserError(f"PostgreSQL did not stop within {EXIT_TIMEOUT_S:.0f} s") from None


def relaunch(launched: Launched, *, ready_timeout_s: float = READY_TIMEOUT_S) -> Launched:
    """Start a stopped server with its own command line again and wait until it answers.

    The listening port may still have TIME-WAIT connections; both servers set
    SO_REUSEADDR themselves, so no port check is made here.
    """
    if launched.popen.poll() is None:
        raise UserError(f"{launched.kind} (pid {launched.pid}) is still running")
    args = [str(a) for a in launched.popen.args]  # type: ignore[union-attr]
    if launched.kind == "valkey":
        popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=procs._child_setup(death_signal=signal.SIGTERM, drop_root=None),
        )
    else:
        popen = procs._pg_popen(args, log_path=launched.log_path, mode=procs.root_mode())
    again = Launched(launched.kind, popen, launched.url, launched.port, launched.log_path)
    deadline = time.monotonic() + ready_timeout_s
    procs.wait_ready(again, deadline=deadline)
    return again


__all__ = ["fast_shutdown", "kill_all", "relaunch", "server_processes", "signal_all"]
